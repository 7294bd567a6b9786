#!/usr/bin/env python
"""Run localstripe (the offline fake Stripe) on 127.0.0.1 only, with persistence off.

Usage: python scripts/localstripe_server.py --port N

Why not `localstripe --port N`: its CLI binds every interface ('::'), and by default it loads its
whole store from /tmp/localstripe.pickle at start and pickles it back there after every write, so
state leaks between runs (and between users of the machine). Here the store lives only in this
process's memory: both disk methods of localstripe's Store are replaced by no-ops before the app
serves anything, and the loader is never called. Clear it at run time with
`DELETE /_config/data` (localstripe's own flush endpoint).

localstripe is GPL and is used only as a separate process (tests, local demo), never imported by
the shop itself.
"""

import argparse
import logging
import sys


def _disable_persistence():
    from localstripe import resources

    # Store.__setitem__/__delitem__ and the server's save middleware all call dump_to_disk();
    # try_load_from_disk() is what the CLI calls at start unless --from-scratch. Patching the
    # class covers the module-level `store` instance the server already holds.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    _disable_persistence()
    from aiohttp import web
    from localstripe.server import app

    access_log = None
    if args.verbose:
        access_log = logging.getLogger("aiohttp.access")
        access_log.setLevel(logging.DEBUG)
        access_log.addHandler(logging.StreamHandler())

    print(f"localstripe on http://127.0.0.1:{args.port} (in memory, no persistence)", file=sys.stderr, flush=True)
    # run_app handles SIGINT and SIGTERM as a graceful exit.
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=access_log, print=None)


if __name__ == "__main__":
    main()
