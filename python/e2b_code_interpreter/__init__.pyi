# Type stub of the package's namespace: every name of `e2b`, with the code-interpreter ones
# (`Sandbox`, `AsyncSandbox`, `E2B`, the models) in place of the core names they shadow. The
# module itself imports them lazily (PEP 562), which type checkers cannot follow.
from . import charts as charts
from . import client as client
from . import constants as constants
from . import models as models
from .client import E2B as E2B
from .client import E2BClientParams as E2BClientParams
from .code_interpreter_async import AsyncSandbox as AsyncSandbox
from .code_interpreter_sync import Sandbox as Sandbox
from .models import Context as Context
from .models import Execution as Execution
from .models import ExecutionError as ExecutionError
from .models import Logs as Logs
from .models import MIMEType as MIMEType
from .models import OutputHandler as OutputHandler
from .models import OutputMessage as OutputMessage
from .models import Result as Result
from .models import RunCodeLanguage as RunCodeLanguage

# After the package's own names: a star import does not replace a name already defined.
from e2b import *  # noqa: E402,F401,F403
