"""clinicflow: an open-source clinic and telehealth platform."""
