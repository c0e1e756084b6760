"""Verified domains: an owner adds a domain and proves it with a DNS TXT record, read over
real DNS from a server the test runs; one organization at most verifies a domain; accounts at
a verified domain are brought under the organization only after the owner confirms the list
shown, and each person is mailed."""

from __future__ import annotations

import re

import pytest

from tests.organizations.conftest import People, Person
from tests.support.dns_zone import Zone

RECORD = "_unified-login-challenge.example.com"


def add_domain(owner: Person, org: str, domain: str = "example.com") -> str:
    """Adds the domain; the id of its row, read from the page."""
    assert owner.post(f"/organizations/{org}/domains", domain=domain).status_code == 302
    page = owner.client.get(f"/organizations/{org}").text
    stored = domain.lower().removesuffix(".")
    match = re.search(rf'data-domain="{re.escape(stored)}".*?/domains/([0-9a-f]{{32}})/verify',
                      page, re.S)
    assert match, page
    return match.group(1)


def txt_value(owner: Person, org: str, domain: str = "example.com") -> str:
    page = owner.client.get(f"/organizations/{org}").text
    section = page.split(f'data-domain="{domain}"')[1]
    match = re.search(r'data-testid="txt-value">([^<]+)<', section)
    assert match
    return match.group(1)


def verify(owner: Person, org: str, domain_id: str) -> str:
    answer = owner.post(f"/organizations/{org}/domains/{domain_id}/verify")
    assert answer.status_code == 302
    return owner.client.get(answer.location).text


def verified_org(people: People, zone: Zone, owner: Person, name: str = "Acme") -> str:
    org = owner.create_organization(name)
    domain_id = add_domain(owner, org)
    zone.txt[RECORD] = [txt_value(owner, org)]
    assert "example.com is verified" in verify(owner, org, domain_id)
    return org


def test_domain_is_verified_by_its_txt_record(people: People, zone: Zone) -> None:
    ann = people("ann@corp.test")
    org = ann.create_organization()
    domain_id = add_domain(ann, org, "Example.COM.")
    assert "not verified" in ann.client.get(f"/organizations/{org}").text
    value = txt_value(ann, org)
    assert re.fullmatch(r"unified-login-verification=[A-Za-z0-9_-]{43}", value)
    zone.txt[RECORD] = ["v=spf1 -all", value]
    assert "example.com is verified" in verify(ann, org, domain_id)
    assert RECORD in zone.asked


@pytest.mark.parametrize("published", [[], ["unified-login-verification=wrong"], None], ids=[
    "no-record", "wrong-value", "no-such-name"])
def test_missing_or_wrong_record_leaves_the_domain_unverified(
    people: People, zone: Zone, published: list[str] | None
) -> None:
    ann = people("ann@corp.test")
    org = ann.create_organization()
    domain_id = add_domain(ann, org)
    if published is not None:
        zone.txt[RECORD] = published
    page = verify(ann, org, domain_id)
    assert "No TXT record" in page and "not verified" in page


def test_dns_failure_is_a_clear_message_and_nothing_changes(people: People, zone: Zone) -> None:
    ann = people("ann@corp.test")
    org = ann.create_organization()
    domain_id = add_domain(ann, org)
    zone.txt[RECORD] = [txt_value(ann, org)]
    zone.failing = True
    page = verify(ann, org, domain_id)
    assert "DNS lookup failed" in page and "not verified" in page


def test_another_organizations_record_does_not_verify_yours(people: People, zone: Zone) -> None:
    ann, zed = people("ann@corp.test"), people("zed@other.test")
    ours, theirs = ann.create_organization(), zed.create_organization()
    add_domain(ann, ours)
    their_domain = add_domain(zed, theirs)
    zone.txt[RECORD] = [txt_value(ann, ours)]  # Ann's record, Zed's click
    assert "No TXT record" in verify(zed, theirs, their_domain)


def test_a_domain_is_verified_by_one_organization_at_most(people: People, zone: Zone) -> None:
    ann, zed = people("ann@corp.test"), people("zed@other.test")
    theirs = zed.create_organization("Zed's")
    their_domain = add_domain(zed, theirs)  # added before Ann's verification
    verified_org(people, zone, ann)
    zone.txt[RECORD].append(txt_value(zed, theirs))
    assert "Another organization has verified" in verify(zed, theirs, their_domain)
    late = zed.create_organization("Zed's second")
    answer = zed.post(f"/organizations/{late}/domains", domain="example.com")
    assert "Another organization has verified" in zed.client.get(answer.location).text


@pytest.mark.parametrize("domain", ["com", "127.0.0.1", "exa mple.com", "-x.com", "a..com",
                                    "ex_ample.com", "exаmple.com", "x" * 64 + ".com"], ids=[
    "one-label", "ip-address", "space", "leading-hyphen", "empty-label", "underscore",
    "cyrillic", "label-too-long"])
def test_bad_domain_is_refused(people: People, domain: str) -> None:
    ann = people("ann@corp.test")
    org = ann.create_organization()
    answer = ann.post(f"/organizations/{org}/domains", domain=domain)
    assert "Enter a domain name" in ann.client.get(answer.location).text
    assert 'data-domain="' not in ann.client.get(f"/organizations/{org}").text


def test_only_owners_manage_domains(people: People, zone: Zone) -> None:
    ann, adm = people("ann@corp.test"), people("adm@corp.test")
    org = ann.create_organization()
    domain_id = add_domain(ann, org)
    people.join(org, ann, adm, "admin")
    zone.txt[RECORD] = [txt_value(ann, org)]
    assert adm.post(f"/organizations/{org}/domains", domain="b.test").status_code == 403
    assert adm.post(f"/organizations/{org}/domains/{domain_id}/verify").status_code == 403
    assert adm.post(f"/organizations/{org}/domains/{domain_id}/remove").status_code == 403
    assert adm.client.get(f"/organizations/{org}/managed").status_code == 403
    assert "not verified" in ann.client.get(f"/organizations/{org}").text


def test_another_organizations_domain_ids_find_nothing(people: People, zone: Zone) -> None:
    ann, zed = people("ann@corp.test"), people("zed@other.test")
    ours, theirs = ann.create_organization(), zed.create_organization()
    their_domain = add_domain(zed, theirs)
    zone.txt[RECORD] = [txt_value(zed, theirs)]
    for path in (f"/organizations/{ours}/domains/{their_domain}/verify",
                 f"/organizations/{ours}/domains/{their_domain}/remove",
                 f"/organizations/{theirs}/domains/{their_domain}/verify",
                 f"/organizations/{theirs}/domains/{their_domain}/remove"):
        assert ann.post(path).status_code == 404
    assert ann.client.get(f"/organizations/{theirs}/managed").status_code == 404
    assert ann.post(f"/organizations/{theirs}/managed", confirm="y").status_code == 404
    assert "not verified" in zed.client.get(f"/organizations/{theirs}").text


def test_accounts_at_a_verified_domain_are_managed_after_the_owner_confirms(
    people: People, zone: Zone
) -> None:
    ann = people("ann@example.com")
    bob = people("bob@example.com")
    people("carol@sub.example.com")
    people("dave@other.test")
    people("unconfirmed@example.com", verified=False)
    org = verified_org(people, zone, ann)
    page = ann.client.get(f"/organizations/{org}/managed").text
    shown = re.findall(r'name="account" value="([^"]+)"', page)
    assert shown == ["ann@example.com", "bob@example.com"]
    # Not confirmed: nothing happens.
    assert ann.post(f"/organizations/{org}/managed", account=shown).status_code == 400
    assert people.user("bob@example.com").managed_by_id is None
    # An account made after the page was shown is not taken with it.
    people("late@example.com")
    answer = ann.post(f"/organizations/{org}/managed", account=shown, confirm="y")
    assert answer.status_code == 302
    assert people.user("bob@example.com").managed_by_id == org
    assert people.role(org, bob) == "member" and people.role(org, ann) == "owner"
    for email in ("carol@sub.example.com", "dave@other.test", "late@example.com",
                  "unconfirmed@example.com"):
        assert people.user(email).managed_by_id is None, email
    [mail] = [m for m in ann.actions.mails("bob@example.com") if "managed" in m.subject]
    assert "Acme" in mail.subject
    assert "bob@example.com" in ann.client.get(f"/organizations/{org}/audit").text


def test_addresses_not_shown_cannot_be_slipped_into_the_confirmation(
    people: People, zone: Zone
) -> None:
    ann = people("ann@example.com")
    dave = people("dave@other.test")
    org = verified_org(people, zone, ann)
    ann.post(f"/organizations/{org}/managed", account=["dave@other.test"], confirm="y")
    assert people.user("dave@other.test").managed_by_id is None
    assert people.role(org, dave) is None


@pytest.mark.parametrize("how", ["domain-removed", "member-removed"])
def test_management_ends_with_the_domain_or_the_membership(
    people: People, zone: Zone, how: str
) -> None:
    ann, bob = people("ann@example.com"), people("bob@example.com")
    org = verified_org(people, zone, ann)
    ann.post(f"/organizations/{org}/managed", account=["bob@example.com"], confirm="y")
    assert people.user("bob@example.com").managed_by_id == org
    if how == "domain-removed":
        page = ann.client.get(f"/organizations/{org}").text
        found = re.search(r"/domains/([0-9a-f]{32})/remove", page)
        assert found
        assert ann.post(f"/organizations/{org}/domains/{found.group(1)}/remove").status_code == 302
    else:
        assert ann.remove(org, people.member_id(org, bob)).status_code == 302
    assert people.user("bob@example.com").managed_by_id is None
