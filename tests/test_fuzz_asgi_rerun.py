"""The ASGI fuzz against uvicorn looks at a differing input a second time before it
counts as a finding. The second look sent the same X-Fuzz-Id: on a loaded server an app
call of the first look that ended after the deadline was counted among the second's
records (one call more on one side, reported as a finding: seed 99173, input 2416). The
second look now runs the input under its own id, the bytes otherwise the same, cut
where they were cut; ``--only ID --repeat N`` runs one input N times at once."""

import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn_inputs import inputs  # noqa: E402
from test_fuzz_asgi_uvicorn import again, chosen  # noqa: E402


def test_the_second_look_at_an_input_runs_it_under_its_own_id_with_the_same_bytes_and_cuts():
    cut_in_a_line = 0
    for item in inputs(99173, 3000):
        second = again(item)
        assert second["id"] == item["id"] + "-again"
        old = b"X-Fuzz-Id: %s\r\n" % item["id"].encode()
        new = b"X-Fuzz-Id: %s-again\r\n" % item["id"].encode()
        assert b"".join(second["steps"]) == b"".join(item["steps"]).replace(old, new)
        assert b"".join(item["steps"]).count(old) == len(item["methods"])  # each request is renamed
        assert len(second["steps"]) == len(item["steps"])
        stream = b"".join(item["steps"])
        cuts = [sum(map(len, item["steps"][:n])) for n in range(1, len(item["steps"]))]
        starts = [n for n in range(len(stream)) if stream.startswith(old, n)]
        if any(start < cut < start + len(old) for cut in cuts for start in starts):
            cut_in_a_line += 1  # (the joined bytes are checked above)
        else:
            assert second["steps"] == [step.replace(old, new) for step in item["steps"]]
        assert {k: v for k, v in second.items() if k not in ("id", "steps")} == \
            {k: v for k, v in item.items() if k not in ("id", "steps")}
    assert cut_in_a_line  # (and the cases of a cut inside the line are among them)


def test_one_input_is_chosen_and_repeated_under_ids_of_its_own():
    items = list(chosen(99173, 2417, {"99173-2416"}, 3))
    assert [i["id"] for i in items] == ["99173-2416-r0", "99173-2416-r1", "99173-2416-r2"]
    assert all(b"X-Fuzz-Id: %s\r\n" % i["id"].encode() in i["steps"][0] for i in items)
    assert [i["id"] for i in chosen(99173, 2417, {"99173-2416"}, 1)] == ["99173-2416"]
