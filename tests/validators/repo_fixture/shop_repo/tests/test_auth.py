from shop.auth import AuthService, UserDB


def test_authenticate() -> None:
    service = AuthService(UserDB({"ann": "secret"}))
    assert service.authenticate("ann", "secret")
    assert not service.authenticate("ann", "wrong")
    assert not service.authenticate("bob", "secret")
