import re

from django.core import mail
from django.test import Client


def test_signing_in_with_email_and_password_lands_on_my_book(bob):
    client = Client()
    response = client.post("/signin/", {"username": "bob@acme.example", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).request["PATH_INFO"] == "/accounts/mine/"


def test_the_email_is_not_case_sensitive_at_sign_in(bob):
    client = Client()
    response = client.post("/signin/", {"username": "Bob@Acme.example", "password": "correct horse battery staple"})
    assert response.status_code == 302


def test_a_wrong_password_shows_an_error_and_signs_nobody_in(bob):
    client = Client()
    response = client.post("/signin/", {"username": "bob@acme.example", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct" in response.content.decode().lower()
    assert client.get("/accounts/mine/").status_code == 302


def test_pages_send_anonymous_visitors_to_sign_in(db):
    response = Client().get("/accounts/mine/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")


def test_signing_out_ends_the_session(client_for, bob):
    client = client_for(bob)
    assert client.post("/signout/").status_code == 302
    assert client.get("/accounts/mine/").status_code == 302


def test_a_forgotten_password_is_reset_through_the_emailed_link(bob):
    client = Client()
    client.post("/password-reset/", {"email": "bob@acme.example"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_password_url, {"new_password1": "a new Passphrase 42", "new_password2": "a new Passphrase 42"}
    )
    assert done.status_code == 302
    fresh = Client()
    assert (
        fresh.post("/signin/", {"username": "bob@acme.example", "password": "a new Passphrase 42"}).status_code == 302
    )


def test_a_reset_link_works_only_once(bob):
    client = Client()
    client.post("/password-reset/", {"email": "bob@acme.example"})
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_password_url, {"new_password1": "a new Passphrase 42", "new_password2": "a new Passphrase 42"})
    again = Client().get(link, follow=True)
    assert "no longer works" in again.content.decode()


def test_asking_a_reset_for_an_unknown_address_sends_nothing_and_reveals_nothing(db):
    response = Client().post("/password-reset/", {"email": "nobody@nowhere.example"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_each_role_lands_on_its_own_start_page(client_for, tenant_a, bob):
    from csplatform.models import Role
    from tests.factories import MembershipFactory, UserFactory

    account_executive = UserFactory(email="ae@acme.example")
    MembershipFactory(tenant=tenant_a, user=account_executive, role=Role.SALES)
    assert client_for(bob).get("/")["Location"] == "/accounts/mine/"
    assert client_for(account_executive).get("/")["Location"] == "/success/handoffs/"
