#!/usr/bin/python3
"""SMTP test server for hostwatch tests: aiosmtpd on loopback, messages saved as files.

Run with /usr/bin/python3 (Debian's python3-aiosmtpd); the pyenv python3 on PATH lacks aiosmtpd.

  smtp_fixture.py --port P --outdir DIR [--tls-cert C --tls-key K [--require-tls]]
                  [--auth user:pass] [--fail-code 451 --fail-at rcpt|data --fail-times N]
                  [--refuse-rcpt ADDRESS=CODE[xTIMES] ...]

Each accepted message becomes DIR/NNNN.env (from=, to=, auth=, tls=) and then DIR/NNNN.eml (the raw
DATA bytes). The .eml is written under a temporary name and renamed into place last, so a test that
sees NNNN.eml can read both files whole. --fail-times N fails the first N transactions with
--fail-code at the --fail-at stage, then accepts; -1 fails every transaction. --refuse-rcpt refuses
one recipient's RCPT TO with CODE (the first TIMES times, or always) while the others are accepted. SIGTERM exits 0.
"""

import argparse
import asyncio
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir, fail_code, fail_at, fail_times, has_auth, refuse_rcpt):
        self.outdir = outdir
        # address -> [code, times left (-1: always)]
        self.refuse_rcpt = refuse_rcpt
        self.fail_code = fail_code
        self.fail_at = fail_at
        self.fail_times = fail_times
        self.failed = 0
        self.has_auth = has_auth
        self.saved = 0

    def _should_fail(self, envelope, stage):
        if self.fail_code == 0 or stage != self.fail_at:
            return False
        # Count transactions, not commands: a message with two recipients fails once, not twice.
        if getattr(envelope, "hw_failed", False):
            return True
        if self.fail_times >= 0 and self.failed >= self.fail_times:
            return False
        self.failed += 1
        envelope.hw_failed = True
        return True

    def _failure_reply(self):
        enhanced = "4.3.0" if self.fail_code < 500 else "5.1.1"
        return f"{self.fail_code} {enhanced} Failure injected by smtp_fixture"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd advertises AUTH whenever auth_require_tls is False or TLS is up, even without an
        # authenticator; clients would then try to log in and fail. The new-style hook must set
        # host_name itself.
        session.host_name = hostname
        if not self.has_auth:
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._should_fail(envelope, "rcpt"):
            return self._failure_reply()
        refusal = self.refuse_rcpt.get(address)
        if refusal is not None and refusal[1] != 0:
            refusal[1] -= 1 if refusal[1] > 0 else 0
            enhanced = "4.2.1" if refusal[0] < 500 else "5.1.1"
            return f"{refusal[0]} {enhanced} <{address}> refused by smtp_fixture"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._should_fail(envelope, "data"):
            return self._failure_reply()
        self.saved += 1
        base = os.path.join(self.outdir, "%04d" % self.saved)
        user = ""
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            user = session.auth_data.login.decode("utf-8", "replace")
        env = "from=%s\nto=%s\nauth=%s\ntls=%s\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos), user, session.ssl is not None)
        with open(base + ".env", "w") as f:
            f.write(env)
        tmp = os.path.join(self.outdir, ".tmp-%04d" % self.saved)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
        os.replace(tmp, base + ".eml")
        return "250 2.0.0 Message accepted for delivery"


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                and auth_data.password == password.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False makes aiosmtpd send 535; the default handled=True sends nothing and the
        # client hangs.
        return AuthResult(success=False, handled=False)
    return authenticator


async def serve(args):
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    authenticator = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        authenticator = make_authenticator(user, password)
    refuse_rcpt = {}
    for spec in args.refuse_rcpt:
        # ADDRESS=CODE[xTIMES]
        address, _, rest = spec.partition("=")
        code, _, times = rest.partition("x")
        refuse_rcpt[address] = [int(code), int(times) if times else -1]
    handler = Handler(args.outdir, args.fail_code, args.fail_at, args.fail_times,
                      authenticator is not None, refuse_rcpt)
    loop = asyncio.get_running_loop()

    def factory():
        return SMTP(handler, tls_context=tls_context, require_starttls=args.require_tls,
                    authenticator=authenticator, auth_required=authenticator is not None,
                    auth_require_tls=tls_context is not None, hostname="smtp-fixture",
                    loop=loop)

    server = await loop.create_server(factory, host="127.0.0.1", port=args.port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--auth", default="", help="user:pass; AUTH becomes required")
    p.add_argument("--fail-code", type=int, default=0)
    p.add_argument("--fail-at", choices=["rcpt", "data"], default="rcpt")
    p.add_argument("--fail-times", type=int, default=0, help="-1 fails every transaction")
    p.add_argument("--refuse-rcpt", action="append", default=[],
                   help="ADDRESS=CODE[xTIMES]: refuse this recipient (every time without xTIMES)")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    p.add_argument("--require-tls", action="store_true")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.require_tls and not args.tls_cert:
        p.error("--require-tls needs --tls-cert and --tls-key")
    os.makedirs(args.outdir, exist_ok=True)
    # AUTH over plain TCP is deliberate here (loopback, throw-away credentials); keep the log quiet.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
