from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("mine/", views.my_book, name="my_book"),
    path("", views.all_accounts, name="all_accounts"),
    path("<int:account_id>/", views.account_detail, name="detail"),
]
