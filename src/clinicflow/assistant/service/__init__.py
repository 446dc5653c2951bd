"""The rules of the assistant: mentions and commands, limits, memory, and the one outcome of
each question.

- `questions`: how a chat message asks (the mention, the command, the notices);
- `asking`: a question's limits and refusals, its plan for the provider, and its outcome
  (answer, failure, cancel);
- `memory`: the doctor's memory panel, and forgetting consultations closed long ago;
- `sharing`: the doctor posting a private answer into the chat.

Other modules call these as `from clinicflow.assistant import service as assistant`.
"""

from clinicflow.assistant.service.asking import Plan as Plan
from clinicflow.assistant.service.asking import begin as begin
from clinicflow.assistant.service.asking import cancel as cancel
from clinicflow.assistant.service.asking import fail as fail
from clinicflow.assistant.service.asking import finish as finish
from clinicflow.assistant.service.asking import topic as topic
from clinicflow.assistant.service.memory import add_memory as add_memory
from clinicflow.assistant.service.memory import delete_memory as delete_memory
from clinicflow.assistant.service.memory import forget_closed as forget_closed
from clinicflow.assistant.service.memory import list_memory as list_memory
from clinicflow.assistant.service.memory import update_memory as update_memory
from clinicflow.assistant.service.questions import Notice as Notice
from clinicflow.assistant.service.questions import Question as Question
from clinicflow.assistant.service.questions import mentions as mentions
from clinicflow.assistant.service.questions import parse as parse
from clinicflow.assistant.service.sharing import share as share
