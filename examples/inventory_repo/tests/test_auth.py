from inventory.auth import AuthService, UserStore


def test_known_user_with_the_right_password() -> None:
    assert AuthService(UserStore({"ann": "s3cret"})).authenticate("ann", "s3cret") is True


def test_wrong_password_or_unknown_user() -> None:
    service = AuthService(UserStore({"ann": "s3cret"}))
    assert service.authenticate("ann", "guess") is False
    assert service.authenticate("bob", "s3cret") is False
