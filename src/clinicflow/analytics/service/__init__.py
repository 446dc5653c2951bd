"""The rules of analytics: clinic days, the daily roll-up, the summary and its CSV.

Other domains' data is read only through their `service.facts` verbs, which aggregate in
SQL; this domain writes only its own roll-up tables. docs/analytics.md has the map.
"""

from clinicflow.analytics.service.csv_export import SECTIONS as SECTIONS
from clinicflow.analytics.service.csv_export import to_csv as to_csv
from clinicflow.analytics.service.days import Bucket as Bucket
from clinicflow.analytics.service.days import window as window
from clinicflow.analytics.service.reading import default_range as default_range
from clinicflow.analytics.service.reading import summary_for as summary_for
from clinicflow.analytics.service.rollup import roll_up_day as roll_up_day
from clinicflow.analytics.service.rollup import roll_up_recent as roll_up_recent
from clinicflow.analytics.service.summary import percentile as percentile
