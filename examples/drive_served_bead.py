"""Build a bead on a LangGraph server (``langgraph dev`` or a deployment) through the SDK client.

Start the server from the repository root (the served graph reads its model and sandbox from
the environment; see workflows/langgraph_app.py)::

    BEADLINE_MODEL=scripted:examples/scripted/square.yaml BEADLINE_SANDBOX=local \\
        langgraph dev --port 28431 --host 127.0.0.1 --no-browser --no-reload

then::

    python examples/drive_served_bead.py http://127.0.0.1:28431 examples/beads/1-square.yaml /tmp/sample

Every review question is printed and answered with ``approve``; the verdict and the code come
back in the thread's final state. The server validates and reports; it writes no file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from langgraph_sdk import get_sync_client

from beadline.workflows.bead.loaders import load_bead_file


def main() -> None:
    """Run one bead on the server and answer its reviews."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:28431")
    parser.add_argument("bead", type=Path, help="a YAML bead file")
    parser.add_argument("repo", help="the repository, as a path on the server's machine")
    args = parser.parse_args()
    client = get_sync_client(url=args.url)
    bead = load_bead_file(args.bead)
    thread = client.threads.create()["thread_id"]
    values = client.runs.wait(
        thread, "bead", input={"bead": bead.model_dump(mode="json"), "repo": args.repo}
    )
    while client.threads.get_state(thread)["next"]:
        [task] = client.threads.get_state(thread)["tasks"]
        question = task["interrupts"][0]["value"]
        print(f"review: {question['stage']} -> {question['summary']}; approve")
        values = client.runs.wait(thread, "bead", command={"resume": {"action": "approve"}})
    assert isinstance(values, dict)
    print(values["status"], "|", values["message"])
    print(values["program"])


if __name__ == "__main__":
    main()
