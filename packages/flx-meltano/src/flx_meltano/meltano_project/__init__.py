"""Reading a Meltano project (meltano.yml, includes, environments, lock files, jobs and
schedules) and its states into what FLX imports."""

from flx_meltano.meltano_project.ledger import (
    ImportedProject as ImportedProject,
    MeltanoProjectImported as MeltanoProjectImported,
    created_before as created_before,
    project_key as project_key,
)
from flx_meltano.meltano_project.model import (
    MeltanoProject as MeltanoProject,
    PipelineSpec as PipelineSpec,
    PluginSpec as PluginSpec,
    ProjectError as ProjectError,
    Unsupported as Unsupported,
)
from flx_meltano.meltano_project.plan import (
    IMPORTED_NOTE as IMPORTED_NOTE,
    Change as Change,
    Current as Current,
    ImportPlan as ImportPlan,
    plan_import as plan_import,
)
from flx_meltano.meltano_project.reader import read_project as read_project
from flx_meltano.meltano_project.states import read_states as read_states
