#!/usr/bin/env python3
"""Talk to ades as a WPS 1.0.0 server with OWSLib, the way GIS scripts usually do.

Usage: owslib_demo.py SERVER_URL      (e.g. http://localhost:8080; the WPS is at /wps)

Needs the example processes `echo` and `io-demo` (`ades seed build examples/echo`,
`ades seed build examples/io-demo`) and `pip install OWSLib`. Exits non-zero on any
failure, so it doubles as a test (tests/it/owslib.rs runs it).
"""

import sys
import time

from owslib.wps import ComplexDataInput, WebProcessingService


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail(f"usage: {sys.argv[0]} SERVER_URL")
    url = sys.argv[1].rstrip("/") + "/wps"

    # The constructor sends GetCapabilities (KVP) and reads the process list.
    wps = WebProcessingService(url, version="1.0.0")
    print(f"{wps.identification.title} ({wps.identification.type} {wps.version})")
    identifiers = [p.identifier for p in wps.processes]
    for process in wps.processes:
        print(f"  process {process.identifier}: {process.title}")
    for wanted in ("echo", "io-demo"):
        if wanted not in identifiers:
            fail(f"the server offers no process {wanted!r}; build examples/{wanted} first")

    # DescribeProcess: inputs with their cardinality and kind, outputs with theirs.
    echo = wps.describeprocess("echo")
    print(f"echo {echo.processVersion}: {echo.abstract}")
    for i in echo.dataInputs:
        print(f"  input  {i.identifier} [{i.minOccurs}..{i.maxOccurs}] {i.dataType}")
    for o in echo.processOutputs:
        print(f"  output {o.identifier} {o.dataType}")
    if "MESSAGE" not in [i.identifier for i in echo.dataInputs]:
        fail("echo has no input MESSAGE")

    # Synchronous Execute (POST XML): the literal output comes back inline.
    execution = wps.execute(
        "echo",
        inputs=[("MESSAGE", "hello from OWSLib")],
        output=[("ECHOED", False)],
        mode="sync",
    )
    if not execution.isSucceeded():
        fail(f"echo did not succeed: {[(e.code, e.text) for e in execution.errors]}")
    echoed = {o.identifier: o.data for o in execution.processOutputs}
    print(f"echo said: {echoed.get('ECHOED')}")
    if echoed.get("ECHOED") != ["hello from OWSLib"]:
        fail(f"unexpected ECHOED output: {echoed}")

    # Asynchronous Execute: the server answers at once with a statusLocation, which we poll
    # with checkStatus until the job is complete. The file input is sent inline.
    text = "A file sent by OWSLib\n"
    execution = wps.execute(
        "io-demo",
        inputs=[("INPUT_FILE", ComplexDataInput(text, mimeType="text/plain"))],
        output=[("OUTPUT_FILE", True)],  # True: as a reference (a URL to download)
        mode="async",
    )
    print(f"io-demo accepted, status at {execution.statusLocation}")
    deadline = time.time() + 120
    while not execution.isComplete():
        if time.time() > deadline:
            fail("io-demo did not finish within 120 s")
        execution.checkStatus(sleepSecs=1)
        print(f"  status: {execution.status} {execution.percentCompleted}%")
    if not execution.isSucceeded():
        fail(f"io-demo failed: {[(e.code, e.text) for e in execution.errors]}")
    output = execution.processOutputs[0]
    print(f"io-demo output {output.identifier} at {output.reference}")
    content = output.retrieveData()
    if isinstance(content, bytes):
        content = content.decode()
    print(f"downloaded: {content!r}")
    if content != text:
        fail(f"the downloaded output differs from the input: {content!r}")

    print("OK")


if __name__ == "__main__":
    main()
