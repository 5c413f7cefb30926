"""A UNIX socket path is resolved as the kernel resolves it: the links in its directory
first, then ``..``. ``sublink/../a.sock`` with ``sublink`` a link to ``other/sub`` names
``other/a.sock``, not ``./a.sock``: both may be bound together (it was refused as the same
address twice). A link that leads back to itself is called a loop, not missing.

Real check-config runs (test_net_bind_same_place_twice's)."""

from prefork.master import listeners
from test_net_bind_same_place_twice import COMMON, prefork


def linked(tmp_path):
    (tmp_path / "other" / "sub").mkdir(parents=True)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "sublink").symlink_to(tmp_path / "other" / "sub")


def test_dotdot_after_a_linked_directory_names_the_links_parent_to_check_config(tmp_path):
    linked(tmp_path)
    status, err = prefork(["check-config", "--bind", "unix:sublink/../a.sock", "--bind", "unix:a.sock", *COMMON],
                          tmp_path / "d")
    assert status == 0, err


def test_the_master_binds_both_places(tmp_path):
    linked(tmp_path)
    first, second = f"unix:{tmp_path}/d/sublink/../a.sock", f"unix:{tmp_path}/d/a.sock"
    opened = listeners.open_listeners([first, second], 16, env={})
    try:
        assert [address for address, _ in opened] == [first, second]
        assert (tmp_path / "other" / "a.sock").exists() and (tmp_path / "d" / "a.sock").exists()
    finally:
        for _, sock in opened:
            sock.close()


def test_a_link_that_leads_back_to_itself_is_called_a_loop(tmp_path):
    (tmp_path / "loop.sock").symlink_to("loop.sock")
    status, err = prefork(["check-config", "--bind", "unix:loop.sock", *COMMON], tmp_path)
    assert status == 2, err
    assert "a chain of links that leads back to itself" in err, err
    assert "does not exist" not in err, err
