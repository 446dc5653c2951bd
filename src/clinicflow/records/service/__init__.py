"""The rules of the medical record: visit notes, prescriptions, the history and exports.

- A visit note is written by the consultation's doctor once the consultation has ended; a
  change adds a version (who, when, what), never overwrites one. Readers see the latest,
  marked as amended when there is more than one; staff also see the earlier versions.
- A prescription is issued by the consultation's doctor once it has ended and is never
  changed: a correction is a new prescription that supersedes it (once).
- A patient's allergies, conditions and medications are kept by their doctors; every change
  is a new version, audited without its clinical values.
- Issuing a prescription checks each medicine against the active allergies and medications
  (`safety`); a conflict refuses it unless the doctor gives an override reason.
- A staff read of any part of a record leaves an audit row; so does every write.

Modules: `notes`, `prescriptions` (with their verification codes), `clinical_lists`
(allergies, conditions, medications and the summary), `safety` (the prescribing checks),
`history` (the
timeline and its search), `exports` (the whole record), `read_audit` (the row a staff read
leaves). The verbs are re-exported here (`from clinicflow.records import service as
records`).
"""

from clinicflow.records.service.clinical_lists import active_lists as active_lists
from clinicflow.records.service.clinical_lists import change_item as change_item
from clinicflow.records.service.clinical_lists import clinical_summary as clinical_summary
from clinicflow.records.service.clinical_lists import item_versions as item_versions
from clinicflow.records.service.clinical_lists import list_items as list_items
from clinicflow.records.service.clinical_lists import record_item as record_item
from clinicflow.records.service.clinical_lists import remove_item as remove_item
from clinicflow.records.service.exports import Record as Record
from clinicflow.records.service.exports import export as export
from clinicflow.records.service.history import PAGE as PAGE
from clinicflow.records.service.history import history as history
from clinicflow.records.service.latest import VisitWithoutNote as VisitWithoutNote
from clinicflow.records.service.latest import last_prescription as last_prescription
from clinicflow.records.service.latest import visits_without_note as visits_without_note
from clinicflow.records.service.notes import read_visit_note as read_visit_note
from clinicflow.records.service.notes import write_visit_note as write_visit_note
from clinicflow.records.service.prescriptions import check_prescription as check_prescription
from clinicflow.records.service.prescriptions import (
    describe_prescriptions as describe_prescriptions,
)
from clinicflow.records.service.prescriptions import issue_prescription as issue_prescription
from clinicflow.records.service.prescriptions import read_prescription as read_prescription
from clinicflow.records.service.prescriptions import verify as verify
