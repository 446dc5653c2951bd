"""The rules of identity: who can log in, how, and who manages accounts.

Every verb takes a session and plain values, flushes and never commits; the caller's
boundary (a request, a command) owns the transaction. One module per job:

- `sessions`: starting and ending logins, tokens and their rotation, authentication;
- `budgets`: the sign-in throttles;
- `password`: staff sign-in by email and password;
- `phone`: patient sign-in by a texted code, and the `CodeSender` it texts through;
- `accounts`: creating and editing accounts, the admin's list;
- `staff`: handing staff a password (invitation link or temporary password), resets,
  the invitee's and the user's own password change;
- `doctor_profiles`: a doctor's profile (specialty, languages, bio, photo, visit kinds)
  and the specialty list the admin keeps;
- `changes`: the hook that tells open sockets a user's role or activity changed;
- `directory`: looking people up (doctors, patients, names);
- `patient_profiles`: the patient's clinical profile (age, sex, numbers, next of kin),
  versioned and audited, and the frozen view other domains read.

Other domains import this package (`from clinicflow.identity import service as identity`)
and call the verbs re-exported here.
"""

from __future__ import annotations

from clinicflow.identity.schemas import Credential as Credential
from clinicflow.identity.service.accounts import create_user as create_user
from clinicflow.identity.service.accounts import get_user as get_user
from clinicflow.identity.service.accounts import list_users as list_users
from clinicflow.identity.service.accounts import normalize_email as normalize_email
from clinicflow.identity.service.accounts import set_preferred_language as set_preferred_language
from clinicflow.identity.service.accounts import update_own_contact as update_own_contact
from clinicflow.identity.service.accounts import update_user as update_user
from clinicflow.identity.service.changes import AccessChanged as AccessChanged
from clinicflow.identity.service.changes import access_changed_info as access_changed_info
from clinicflow.identity.service.directory import active_admins as active_admins
from clinicflow.identity.service.directory import count_users as count_users
from clinicflow.identity.service.directory import (
    find_or_register_patient as find_or_register_patient,
)
from clinicflow.identity.service.directory import find_patients as find_patients
from clinicflow.identity.service.directory import get_doctor as get_doctor
from clinicflow.identity.service.directory import get_patient as get_patient
from clinicflow.identity.service.directory import held_doctors as held_doctors
from clinicflow.identity.service.directory import is_active as is_active
from clinicflow.identity.service.directory import names as names
from clinicflow.identity.service.directory import search_doctors as search_doctors
from clinicflow.identity.service.directory import users as users
from clinicflow.identity.service.doctor_profiles import PHOTO_MAX_BYTES as PHOTO_MAX_BYTES
from clinicflow.identity.service.doctor_profiles import add_specialty as add_specialty
from clinicflow.identity.service.doctor_profiles import doctor_for_editing as doctor_for_editing
from clinicflow.identity.service.doctor_profiles import doctor_photo as doctor_photo
from clinicflow.identity.service.doctor_profiles import set_doctor_photo as set_doctor_photo
from clinicflow.identity.service.doctor_profiles import specialties as specialties
from clinicflow.identity.service.doctor_profiles import (
    update_doctor_profile as update_doctor_profile,
)
from clinicflow.identity.service.doctor_profiles import update_specialty as update_specialty
from clinicflow.identity.service.held import held_info as held_info
from clinicflow.identity.service.password import login_with_password as login_with_password
from clinicflow.identity.service.patient_profiles import patient_profile as patient_profile
from clinicflow.identity.service.patient_profiles import (
    patient_profile_history as patient_profile_history,
)
from clinicflow.identity.service.patient_profiles import patient_profiles as patient_profiles
from clinicflow.identity.service.patient_profiles import (
    read_patient_profile as read_patient_profile,
)
from clinicflow.identity.service.patient_profiles import (
    record_patient_profile as record_patient_profile,
)
from clinicflow.identity.service.phone import CodeSender as CodeSender
from clinicflow.identity.service.phone import OtpSent as OtpSent
from clinicflow.identity.service.phone import code_sender_info as code_sender_info
from clinicflow.identity.service.phone import request_otp as request_otp
from clinicflow.identity.service.phone import verify_otp as verify_otp
from clinicflow.identity.service.profiles import set_meet_url as set_meet_url
from clinicflow.identity.service.sessions import Authenticated as Authenticated
from clinicflow.identity.service.sessions import Client as Client
from clinicflow.identity.service.sessions import Login as Login
from clinicflow.identity.service.sessions import SessionKind as SessionKind
from clinicflow.identity.service.sessions import (
    authenticate_access_token as authenticate_access_token,
)
from clinicflow.identity.service.sessions import authenticate_cookie as authenticate_cookie
from clinicflow.identity.service.sessions import authenticate_logins as authenticate_logins
from clinicflow.identity.service.sessions import logout as logout
from clinicflow.identity.service.sessions import refresh as refresh
from clinicflow.identity.service.staff import Handover as Handover
from clinicflow.identity.service.staff import accept_invitation as accept_invitation
from clinicflow.identity.service.staff import change_password as change_password
from clinicflow.identity.service.staff import create_staff as create_staff
from clinicflow.identity.service.staff import invitation_url as invitation_url
from clinicflow.identity.service.staff import invited_user as invited_user
from clinicflow.identity.service.staff import reset_password as reset_password
