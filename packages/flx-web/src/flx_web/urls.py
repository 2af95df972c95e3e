"""The dashboard's URLs."""

from __future__ import annotations

from django.urls import path

from flx_web.views import (
    account,
    admin,
    dashboard,
    executions,
    pipelines,
    plugins,
    state,
    streams,
)

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("live/", dashboard.live, name="live"),
    path("login/", account.login, name="login"),
    path("logout/", account.logout, name="logout"),
    path("profile/", account.profile, name="profile"),
    path("profile/sessions/<str:session_id>/revoke/", account.revoke_session),
    path("pipelines/", pipelines.pipeline_list, name="pipelines"),
    path("pipelines/new/", pipelines.pipeline_new),
    path("pipelines/<str:name>/", pipelines.pipeline_detail),
    path("pipelines/<str:name>/edit/", pipelines.pipeline_edit),
    path("pipelines/<str:name>/run/", pipelines.pipeline_run),
    path("pipelines/<str:name>/enable/", pipelines.pipeline_enable),
    path("pipelines/<str:name>/disable/", pipelines.pipeline_disable),
    path("pipelines/<str:name>/delete/", pipelines.pipeline_delete),
    path("executions/", executions.execution_list, name="executions"),
    path("executions/<str:execution_id>/", executions.execution_detail),
    path("executions/<str:execution_id>/summary/", executions.execution_summary),
    path("executions/<str:execution_id>/log/stream/", streams.log_stream),
    path("executions/<str:execution_id>/cancel/", executions.cancel),
    path("executions/<str:execution_id>/retry/", executions.retry),
    path("state/", state.state_list, name="state"),
    path("state/<str:state_id>/", state.state_detail),
    path("state/<str:state_id>/restore/", state.state_restore),
    path("plugins/", plugins.plugin_list, name="plugins"),
    path("plugins/new/", plugins.plugin_new),
    path("plugins/builtin/", plugins.plugin_builtin),
    path("plugins/install/<str:job_id>/", plugins.install_job),
    path("plugins/install/<str:job_id>/progress/", plugins.install_progress),
    path("plugins/<str:name>/", plugins.plugin_detail),
    path("plugins/<str:name>/install/", plugins.plugin_install),
    path("plugins/<str:name>/streams/", plugins.plugin_streams),
    path("schedules/", admin.schedules, name="schedules"),
    path("audit/", admin.audit, name="audit"),
    path("users/", admin.users, name="users"),
    path("users/new/", admin.user_new),
    path("users/<str:email>/", admin.user_change),
]

handler400 = "flx_web.views.errors.bad_request"
handler403 = "flx_web.views.errors.forbidden"
handler404 = "flx_web.views.errors.not_found"
handler500 = "flx_web.views.errors.server_error"
