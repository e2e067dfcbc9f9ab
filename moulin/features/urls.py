from django.urls import path  # noqa: F401

app_name = "features"

# Each block belongs to one views module (moulin/features/views/<name>.py).
urlpatterns: list = [
    # --- feature tree: list, create, edit (views/tree.py)
    # --- feature page: insights, links, history (views/feature_page.py)
    # --- prioritisation board, matrix, squad comparison, export (views/board.py)
    # --- scoring frameworks and currency rates (views/frameworks.py)
    # --- "why this priority" page (views/why.py)
]
