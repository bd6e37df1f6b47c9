from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("mine/", views.my_book, name="my_book"),
    path("", views.all_accounts, name="all_accounts"),
    path("mine/export.csv", views.my_book_export, name="my_book_export"),
    path("export.csv", views.all_accounts_export, name="all_accounts_export"),
    path("<int:account_id>/", views.account_detail, name="detail"),
    path("<int:account_id>/edit/", views.edit_account, name="edit"),
    path("<int:account_id>/activities/log/", views.log_activity, name="activity_log"),
    path("<int:account_id>/contacts/add/", views.add_contact, name="contact_add"),
    path("<int:account_id>/contacts/<int:contact_id>/edit/", views.edit_contact, name="contact_edit"),
    path("<int:account_id>/contacts/<int:contact_id>/left/", views.mark_contact_left, name="contact_left"),
]
