from django.urls import path

from moulin.accounts.views import audit, auth, home, organisation, profile

app_name = "accounts"

urlpatterns = [
    path("", home.home, name="home"),
    path("sign-in/", auth.sign_in, name="login"),
    path("sign-out/", auth.sign_out, name="logout"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    path("password-reset/sent/", auth.password_reset_done, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth.password_reset_confirm,
         name="password_reset_confirm"),
    path("password-reset/done/", auth.password_reset_complete, name="password_reset_complete"),
    path("invitation/<str:token>/", auth.invitation_accept, name="invitation_accept"),
    path("language/", auth.language_set, name="language_set"),
    path("me/", profile.profile, name="profile"),
    path("me/password/", profile.password_change, name="password_change"),
    path("me/password/done/", profile.password_change_done, name="password_change_done"),
    path("me/tokens/", profile.token_list, name="token_list"),
    path("me/tokens/<int:pk>/revoke/", profile.token_revoke, name="token_revoke"),
    path("settings/", organisation.organisation_settings, name="organisation_settings"),
    path("members/", organisation.member_list, name="member_list"),
    path("members/<int:pk>/", organisation.member_edit, name="member_edit"),
    path("members/<int:pk>/active/", organisation.member_set_active, name="member_set_active"),
    path("invitations/", organisation.invitation_list, name="invitation_list"),
    path("invitations/<int:pk>/revoke/", organisation.invitation_revoke,
         name="invitation_revoke"),
    path("departments/", organisation.department_list, name="department_list"),
    path("departments/<int:pk>/", organisation.department_edit, name="department_edit"),
    path("departments/<int:pk>/delete/", organisation.department_delete,
         name="department_delete"),
    path("squads/", organisation.squad_list, name="squad_list"),
    path("squads/<int:pk>/", organisation.squad_edit, name="squad_edit"),
    path("squads/<int:pk>/delete/", organisation.squad_delete, name="squad_delete"),
    path("permissions/", organisation.permissions, name="permissions"),
    path("permissions/reset/", organisation.permissions_reset, name="permissions_reset"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/export.csv", audit.audit_log_export, name="audit_log_export"),
]
