"""The sync verbs: the change feed (`feed`) and the idempotent push (`push`)."""

from clinicflow.sync.service.feed import changes as changes
from clinicflow.sync.service.push import push as push
