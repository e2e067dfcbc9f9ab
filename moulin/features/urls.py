from django.urls import path

from moulin.features.views import board, feature_page, frameworks, linking, tree, why

app_name = "features"

# Each block belongs to one views module (moulin/features/views/<name>.py).
urlpatterns: list = [
    # --- feature tree: list, create, edit (views/tree.py)
    path("", tree.feature_list, name="feature_list"),
    path("new/", tree.feature_create, name="feature_create"),
    path("<int:pk>/edit/", tree.feature_edit, name="feature_edit"),
    path("<int:pk>/delete/", tree.feature_delete, name="feature_delete"),
    # --- feature page: insights, links, history (views/feature_page.py)
    path("<int:pk>/", feature_page.feature_detail, name="feature_detail"),
    path("<int:pk>/links/search/", feature_page.link_search, name="link_search"),
    path("<int:pk>/links/", feature_page.link_add, name="link_add"),
    path("<int:pk>/links/group/", feature_page.link_group, name="link_group"),
    path("<int:pk>/links/<int:link_pk>/importance/", feature_page.link_importance,
         name="link_importance"),
    path("<int:pk>/links/<int:link_pk>/delete/", feature_page.link_remove, name="link_remove"),
    # --- linking from the feedback page and the inbox (views/linking.py)
    path("feedback/<int:feedback_pk>/", linking.feedback_panel, name="feedback_panel"),
    path("feedback/<int:feedback_pk>/link/", linking.feedback_link, name="feedback_link"),
    path("feedback/<int:feedback_pk>/unlink/<int:feature_pk>/", linking.feedback_unlink,
         name="feedback_unlink"),
    path("inbox/picker/", linking.inbox_link_picker, name="inbox_link_picker"),
    path("inbox/link/", linking.inbox_link, name="inbox_link"),
    # --- prioritisation board, matrix, squad comparison, export (views/board.py)
    path("board/", board.board, name="board"),
    path("board/move/", board.board_move, name="board_move"),
    path("board/<int:pk>/unpin/", board.board_unpin, name="board_unpin"),
    path("board/matrix/", board.matrix, name="matrix"),
    path("board/squads/", board.squads, name="squads"),
    path("board/export/", board.export, name="export"),
    # --- scoring frameworks and currency rates (views/frameworks.py)
    path("frameworks/", frameworks.framework_list, name="framework_list"),
    path("frameworks/new/", frameworks.framework_create, name="framework_create"),
    path("frameworks/check/", frameworks.framework_check, name="framework_check"),
    path("frameworks/<int:pk>/", frameworks.framework_edit, name="framework_edit"),
    path("frameworks/<int:pk>/standard/", frameworks.framework_set_standard,
         name="framework_set_standard"),
    path("frameworks/<int:pk>/delete/", frameworks.framework_delete, name="framework_delete"),
    path("frameworks/rates/", frameworks.currency_rate_save, name="currency_rate_save"),
    path("frameworks/rates/<int:pk>/delete/", frameworks.currency_rate_delete,
         name="currency_rate_delete"),
    # --- "why this priority" page (views/why.py)
    path("<int:pk>/why/", why.feature_why, name="feature_why"),
]
