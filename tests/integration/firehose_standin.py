"""A local stand-in for Amazon Kinesis Data Firehose, AWS STS, EC2 instance metadata (IMDSv2)
and ECS container credentials, for the integration tests (docs/design.md "AWS").

One plain-HTTP server (http.server.ThreadingHTTPServer on 127.0.0.1, port 0, in a thread)
answers all four, told apart as the real endpoints are:
- Firehose (JSON 1.1): POST with `X-Amz-Target: Firehose_20150804.<Operation>`;
  PutRecordBatch and DescribeDeliveryStream.
- STS (query protocol, XML answers): `Action=...` in the form body or the query string;
  GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity.
- IMDSv2: `/latest/...` (PUT /latest/api/token first; every GET needs the token).
- ECS container credentials: GET `ecs_path` with the `Authorization` token.

Every Firehose and STS request (except the unsigned AssumeRoleWithWebIdentity) must carry a
valid SigV4 header signature. It is recomputed with botocore's own signer (botocore.auth.SigV4Auth)
from the request as received, with the secret of the access key id from the stand-in's key
table, so a relay that signs differently from botocore is refused with the service's own error
shape. Keys can be added, revoked (ExpiredToken) and removed at run time.

Limits are the service's (Firehose API reference, PutRecordBatch): at most 500 records and at
most 1,024,000 bytes a record (both model constraints, answered as Coral's ValidationException),
at most 4 MiB of decoded record data a request (InvalidArgumentException "Records size exceeds
4 MB limit", the message real Firehose gives). A violation rejects the whole request.

Faults for the tests: fail the next N requests with a given error, a per-record failure rate
(ErrorCode ServiceUnavailableException, FailedPutCount set), slow answers, dropped connections
(request read, no answer), lost responses (records stored, then the connection dropped, so the
sender resends and a duplicate is expected; such stored records are flagged `lost`), and
outage modes: 503s, dropped or black-holed connections, and answers broken after the records
were stored (reset mid-answer, malformed JSON with HTTP 200) or refused one by one (HTTP 200,
every record failed). Standard library + Debian's botocore only.

Quotas (set_quota, off by default): token buckets per stream for bytes/s, records/s and
requests/s, as Firehose meters a stream. What Firehose answers when one is exceeded: the
PutRecordBatch model (botocore data/firehose/service-2.json) lists ServiceUnavailableException
as the operation's only throttling error, a server fault ("fault": true, so HTTP 500 in the JSON
1.1 protocol; Firehose defines no ThrottlingException), documented as "throughput limits for the
Firehose stream may have been exceeded". Over the byte or record rate, records fail one by one
with ErrorCode ServiceUnavailableException and ErrorMessage "Slow down." and FailedPutCount set
(the answers quoted in boto/boto3#2804 and awslabs/amazon-kinesis-agent#29); over the request
rate the whole request gets ServiceUnavailableException, HTTP 500, "Slow down." (the same agent
logs "ServiceUnavailableException: 500"). Latency (set_latency, `--latency-ms` when run as a
program) models a WAN round trip: half before the request is handled, half before the answer.
"""

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import random
import re
import secrets
import socket
import string
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape as xml_escape

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials as BotoCredentials

import relay as R

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_STREAM = "kinesyslog-test"
FIREHOSE_TARGET_PREFIX = "Firehose_20150804."
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

MAX_RECORDS = 500
MAX_RECORD_BYTES = 1_024_000
MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_CLOCK_SKEW = 5 * 60  # seconds; AWS refuses older or newer signatures
STREAM_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"

# Injectable request errors: (HTTP status, error type, message); "raw" ones have no AWS shape
# (what a load balancer in front of the service answers).
ERRORS = {
    "ServiceUnavailableException": (500, "ServiceUnavailableException", "Slow down."),
    "ThrottlingException": (400, "ThrottlingException", "Rate exceeded"),
    "LimitExceededException": (400, "LimitExceededException", "Rate exceeded for stream"),
    "InternalFailure": (500, "InternalFailure",
                        "We encountered an internal error. Please try again."),
    "500": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "503": (503, "ServiceUnavailableException", "Service Unavailable"),
    "502-raw": (502, None, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "504-raw": (504, None, "<html><body><h1>504 Gateway Time-out</h1></body></html>"),
}
OUTAGE_MODES = ("503", "drop", "blackhole", "mixed", "reset", "malformed", "all-failed")
# Outage modes in which PutRecordBatch is processed and only its answer is broken.
ANSWER_FAULTS = ("reset", "malformed", "all-failed")
# What "malformed" answers with HTTP 200: JSON cut off in the middle of the first entry.
MALFORMED_ANSWER = '{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[{"RecordId":"'
# What "reset" sends before resetting the connection: the head and the start of the body.
RESET_PREFIX = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                b"Content-Length: 4000\r\n\r\n" + MALFORMED_ANSWER.encode())


def _now():
    return time.time()


def iso8601_z(epoch):
    """`2024-05-01T12:00:00Z`, the form IMDS and ECS give Expiration in."""
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _random_id(prefix, n=16):
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def _random_secret():
    return base64.b64encode(secrets.token_bytes(30)).decode()


@dataclass
class Key:
    """One access key the stand-in knows. `token` is set for temporary credentials; the request
    must then carry it as X-Amz-Security-Token."""

    access_key_id: str
    secret: str
    token: str = None
    account: str = DEFAULT_ACCOUNT
    arn: str = None
    expires_at: float = None  # epoch seconds; the stand-in refuses the key from then on
    revoked: bool = False

    def expired(self, now=None):
        now = _now() if now is None else now
        return self.revoked or (self.expires_at is not None and now >= self.expires_at)

    def expiration(self):
        return iso8601_z(self.expires_at if self.expires_at is not None else _now() + 3600)

    def env(self):
        """The relay's environment for these credentials."""
        e = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret}
        if self.token:
            e["AWS_SESSION_TOKEN"] = self.token
        return e


@dataclass
class Stream:
    name: str
    status: str = "ACTIVE"
    created: float = field(default_factory=_now)


class TokenBucket:
    """`rate` tokens a second, at most `capacity` held (full at the start). Not thread-safe:
    the stand-in's lock guards it. `clock` is injectable for the tests."""

    def __init__(self, rate, capacity, clock=time.monotonic):
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def refill(self):
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self, n):
        """Takes n tokens if all are there; False (nothing taken) otherwise."""
        if self.tokens + 1e-9 < n:
            return False
        self.tokens -= n
        return True


@dataclass
class Quota:
    """A stream's throughput quota; None leaves that dimension unmetered. `burst_seconds` of
    each rate may be used at once (the bucket's size; the byte bucket always holds at least one
    largest record, or such a record could never pass)."""
    bytes_per_second: float = None
    records_per_second: float = None
    requests_per_second: float = None
    burst_seconds: float = 1.0

    def buckets(self, clock=time.monotonic):
        def bucket(rate, floor=0):
            if rate is None:
                return None
            return TokenBucket(rate, max(rate * self.burst_seconds, floor), clock)
        return {"bytes": bucket(self.bytes_per_second, MAX_RECORD_BYTES),
                "records": bucket(self.records_per_second, 1),
                "requests": bucket(self.requests_per_second, 1)}


SLOW_DOWN = "Slow down."


@dataclass
class StoredRecord:
    stream: str
    data: bytes
    record_id: str
    request: int  # RequestLog.n of the request that stored it
    key_id: str
    lost: bool = False  # stored, but the answer was never sent (the sender will resend it)
    time: float = field(default_factory=_now)


@dataclass
class RequestLog:
    n: int
    time: float
    service: str  # firehose, sts, imds, ecs
    op: str
    key_id: str = None
    status: int = None  # None when no answer was sent
    error: str = None  # the error type answered, if any
    records: int = 0  # records in a PutRecordBatch request
    bytes: int = 0  # their decoded bytes (once the request was read as valid)
    failed: int = 0  # of them, failed per record
    fault: str = None  # the injected faults that shaped the answer, joined by "+"
    stream: str = None  # DeliveryStreamName of a PutRecordBatch
    throttled: bool = False  # refused whole, or records failed, because a quota bucket was empty
    detail: str = None  # for refused signatures: the canonical request the stand-in expected

    def add_fault(self, what):
        self.fault = what if not self.fault else f"{self.fault}+{what}"


class _Fault:
    """One queued injection: applies to the next `count` requests whose op is in `ops`."""

    def __init__(self, count, ops, **what):
        self.count = count
        self.ops = ops
        self.what = what

    def matches(self, op):
        return self.count > 0 and (self.ops is None or op in self.ops)


class _DroppedError(Exception):
    """Raised inside the handler to close the connection without answering."""


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, told which headers the client signed. A real service takes the
    SignedHeaders list from the request; botocore's own list would leave out User-Agent and
    Expect, and add Host when missing, which is right for a client but not for a verifier."""

    def __init__(self, credentials, service, region, signed):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        selected = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                selected[name.lower()] = value
        return selected


class SignatureError(Exception):
    def __init__(self, kind, message, key=None, detail=None):
        super().__init__(message)
        self.kind = kind  # missing, incomplete, unknown_key, expired, mismatch
        self.message = message
        self.key = key
        self.detail = detail


AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)"
    r"\s*,\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


def verify_sigv4(method, url, headers, body, service, region, lookup_key, now=None):
    """Checks a request's SigV4 Authorization header; returns the Key or raises SignatureError.

    `headers` is the list of (name, value) pairs as received. The signature is recomputed by
    botocore's SigV4Auth for the request's X-Amz-Date, with the canonical request built from
    the method, the URL, the signed headers as received and the body."""
    now = _now() if now is None else now
    auth = [v for k, v in headers if k.lower() == "authorization"]
    if not auth:
        raise SignatureError("missing", "Missing Authentication Token")
    m = AUTH_RE.match(auth[0].strip())
    if not m:
        raise SignatureError(
            "incomplete",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters (AWS4-HMAC-SHA256). Authorization={auth[0]}",
        )
    cred = m["cred"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        raise SignatureError("incomplete", f"Credential is malformed: {m['cred']}")
    key_id, scope_date, scope_region, scope_service, _ = cred
    key = lookup_key(key_id)
    if key is None:
        raise SignatureError("unknown_key", INVALID_TOKEN)
    tokens = [v for k, v in headers if k.lower() == "x-amz-security-token"]
    if (key.token or None) != (tokens[0] if tokens else None):
        raise SignatureError("unknown_key", INVALID_TOKEN, key)
    if key.expired(now):
        raise SignatureError("expired", EXPIRED_TOKEN, key)

    dates = [v for k, v in headers if k.lower() == "x-amz-date"]
    if not dates:
        raise SignatureError(
            "incomplete", "Authorization header requires existence of a 'X-Amz-Date' header."
        )
    amz_date = dates[0].strip()
    if not AMZ_DATE_RE.match(amz_date):
        raise SignatureError("incomplete", f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ")
    if scope_date != amz_date[:8]:
        raise SignatureError(
            "mismatch", f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            f"version of date from HTTP: '{scope_date}' != '{amz_date[:8]}'", key)
    if scope_region != region:
        raise SignatureError(
            "mismatch", f"Credential should be scoped to a valid region, not '{scope_region}'. ",
            key)
    if scope_service != service:
        raise SignatureError(
            "mismatch", f"Credential should be scoped to correct service: '{service}'. ", key)
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureError(
            "mismatch", f"Signature expired: {amz_date} is now earlier than "
            f"{iso_basic(now - MAX_CLOCK_SKEW)} ({iso_basic(now)} - 5 min.)", key)

    signed = m["signed"].split(";")
    if signed != sorted(signed) or any(s != s.lower() for s in signed):
        raise SignatureError("mismatch", f"SignedHeaders {m['signed']!r} are not sorted "
                             "lowercase names. " + SIGNATURE_MISMATCH, key)
    received = {k.lower() for k, _ in headers}
    for name in signed:
        if name not in received:
            raise SignatureError("mismatch", f"Header {name!r} is signed but not present. "
                                 + SIGNATURE_MISMATCH, key)
    # Host and the date are always signed; every x-amz-* header sent must be signed too
    # (SigV4 "Create a canonical request"), X-Amz-Security-Token and X-Amz-Target included,
    # as botocore does.
    for name in sorted(received):
        if (name in ("host", "x-amz-date") or name.startswith("x-amz-")) and name not in signed:
            raise SignatureError("mismatch", f"Header {name!r} must be signed. "
                                 + SIGNATURE_MISMATCH, key)
    sha_headers = [v for k, v in headers if k.lower() == "x-amz-content-sha256"]
    if sha_headers and sha_headers[0].strip() != hashlib.sha256(body).hexdigest():
        raise SignatureError(
            "mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.", key)

    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        if name.lower() in signed:
            request.headers[name] = value
    request.context["timestamp"] = amz_date
    signer = _ReceivedRequestSigner(
        BotoCredentials(key.access_key_id, key.secret, key.token), service, region, set(signed)
    )
    canonical = signer.canonical_request(request)
    to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(to_sign, request)
    if not hmac.compare_digest(expected, m["sig"]):
        # The answer carries the service's message only; what the stand-in computed goes to
        # the request log (RequestLog.detail) for whoever debugs a signer.
        raise SignatureError("mismatch", SIGNATURE_MISMATCH, key,
                             detail=f"canonical request:\n{canonical}\n\nstring to sign:\n"
                             f"{to_sign}")
    return key


def iso_basic(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")


# Error shapes per service for each signature problem: (status, code).
FIREHOSE_AUTH_ERRORS = {
    "missing": (400, "MissingAuthenticationTokenException"),
    "incomplete": (400, "IncompleteSignatureException"),
    "unknown_key": (400, "UnrecognizedClientException"),
    "expired": (400, "ExpiredTokenException"),
    "mismatch": (400, "InvalidSignatureException"),
}
STS_AUTH_ERRORS = {
    "missing": (403, "MissingAuthenticationToken"),
    "incomplete": (400, "IncompleteSignature"),
    "unknown_key": (403, "InvalidClientTokenId"),
    "expired": (400, "ExpiredToken"),
    "mismatch": (403, "SignatureDoesNotMatch"),
}


class FirehoseStandIn:
    """The stand-in. Thread-safe; tests call its methods while the relay talks to it."""

    def __init__(self, region=DEFAULT_REGION, account=DEFAULT_ACCOUNT, seed=None):
        self.region = region
        self.account = account
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._keys = {}
        self._streams = {}
        self._records = []
        self._requests = []
        self._decoded = {}
        self._faults = []  # _Fault, consumed in order
        self._record_failure_rate = 0.0
        self._delay = 0.0
        self._latency = 0.0
        self._quotas = {}  # stream name -> {"bytes"|"records"|"requests": TokenBucket or None}
        self._in_flight = 0  # PutRecordBatch requests being handled now
        self.max_in_flight = 0  # the most handled at once since start
        self._outage = None
        self._outage_cycle = 0
        self._outage_over = threading.Event()
        self._outage_over.set()
        self._web_identity_tokens = None  # None: any non-empty token is accepted
        self.assume_role_seconds = None  # overrides DurationSeconds for issued keys
        # IMDSv2 and ECS
        self._imds_tokens = {}
        self._imds_role = None  # (role name, Key)
        self.ecs_path = "/ecs/v1/credentials/" + uuid.uuid4().hex
        self.ecs_token = secrets.token_hex(16)
        self._ecs_key = None
        self._server = None
        self._thread = None
        self.default_key = self.add_key()
        self.add_stream(DEFAULT_STREAM)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, port=0):
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="firehose-standin", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        self.set_outage(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ecs_url(self):
        return self.url + self.ecs_path

    # -- keys and streams ----------------------------------------------------------------------

    def add_key(self, access_key_id=None, secret=None, token=None, account=None, arn=None,
                expires_at=None):
        """Adds a key; token=True makes up a session token (temporary credentials, ASIA...)."""
        if token is True:
            token = base64.b64encode(secrets.token_bytes(96)).decode()
        if access_key_id is None:
            access_key_id = _random_id("ASIA" if token else "AKIA")
        account = account or self.account
        key = Key(
            access_key_id=access_key_id,
            secret=secret or _random_secret(),
            token=token,
            account=account,
            arn=arn or f"arn:aws:iam::{account}:user/kinesyslog-test",
            expires_at=expires_at,
        )
        with self._lock:
            self._keys[access_key_id] = key
        return key

    def revoke_key(self, key):
        """From now on requests signed with the key get ExpiredToken(Exception)."""
        with self._lock:
            self._keys[_key_id(key)].revoked = True

    def remove_key(self, key):
        """From now on the key is unknown (UnrecognizedClientException / InvalidClientTokenId)."""
        with self._lock:
            self._keys.pop(_key_id(key), None)

    def key(self, access_key_id):
        with self._lock:
            return self._keys.get(access_key_id)

    def add_stream(self, name, status="ACTIVE"):
        with self._lock:
            self._streams[name] = Stream(name, status)

    def set_stream_status(self, name, status):
        with self._lock:
            self._streams[name].status = status

    def remove_stream(self, name):
        with self._lock:
            self._streams.pop(name, None)

    def accept_web_identity_tokens(self, tokens):
        with self._lock:
            self._web_identity_tokens = set(tokens)

    # -- instance metadata and container credentials --------------------------------------------

    def set_imds_role(self, role, key):
        """What IMDS serves under iam/security-credentials/ (None: no role attached)."""
        with self._lock:
            self._imds_role = None if role is None else (role, key)

    def set_ecs_key(self, key):
        with self._lock:
            self._ecs_key = key

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, n, error="ServiceUnavailableException", ops=("PutRecordBatch",)):
        """Answer the next n matching requests with an error from ERRORS, or a (status, type,
        message) tuple; type None sends `message` as a text/html body."""
        shape = ERRORS[error] if isinstance(error, str) else tuple(error)
        with self._lock:
            self._faults.append(_Fault(n, ops, kind="error", shape=shape))

    def drop_next(self, n, ops=("PutRecordBatch",)):
        """Read the next n matching requests and close the connection without answering (the
        request is not processed: nothing is stored)."""
        with self._lock:
            self._faults.append(_Fault(n, ops, kind="drop"))

    def lose_next(self, n, ops=("PutRecordBatch",)):
        """Process the next n PutRecordBatch requests that store at least one record (stored
        records are flagged lost), then close the connection without answering: the sender
        cannot know, and resends."""
        with self._lock:
            self._faults.append(_Fault(n, ops, kind="lose"))

    def slow_next(self, n, seconds, ops=("PutRecordBatch",)):
        with self._lock:
            self._faults.append(_Fault(n, ops, kind="slow", seconds=seconds))

    def set_delay(self, seconds):
        """Every Firehose and STS answer waits this long first."""
        with self._lock:
            self._delay = seconds

    def set_latency(self, seconds):
        """A network round trip: every Firehose answer comes this much later, half of it before
        the request is looked at (so quota buckets see it then), half before the answer."""
        with self._lock:
            self._latency = seconds

    def set_quota(self, stream, bytes_per_second=None, records_per_second=None,
                  requests_per_second=None, burst_seconds=1.0, clock=time.monotonic):
        """Meters `stream` from now on (None everywhere: unmetered again). Buckets start full."""
        quota = Quota(bytes_per_second, records_per_second, requests_per_second, burst_seconds)
        with self._lock:
            if bytes_per_second is None and records_per_second is None \
                    and requests_per_second is None:
                self._quotas.pop(stream, None)
            else:
                self._quotas[stream] = quota.buckets(clock)

    def throttle_counts(self, stream=None):
        """(PutRecordBatch requests answered, of them throttled whole or in part, records
        refused by a quota) for one stream or all."""
        reqs = [r for r in self.requests(op="PutRecordBatch")
                if r.status is not None and (stream is None or r.stream == stream)]
        throttled = [r for r in reqs if r.throttled]
        return len(reqs), len(throttled), sum(r.failed for r in throttled if r.status == 200)

    def set_record_failure_rate(self, rate, seed=None):
        """Each record of a PutRecordBatch fails on its own with this probability."""
        with self._lock:
            self._record_failure_rate = rate
            if seed is not None:
                self._random.seed(seed)

    def set_outage(self, mode):
        """Firehose unavailable until set_outage(None): "503" answers 503
        ServiceUnavailableException, "drop" closes connections unanswered, "blackhole" holds
        requests without an answer until the outage ends (accepts, reads, never answers),
        "mixed" cycles through those three. Answers broken after the work was done (other
        operations are answered normally):
        - "reset": PutRecordBatch stores the records (flagged lost), sends the answer's head and
          the first bytes of its body, then resets the connection (SO_LINGER 0: an RST, not a
          FIN), as a load balancer or a crashing front end would;
        - "malformed": stores the records (flagged lost) and answers HTTP 200 with JSON cut
          off in the middle (MALFORMED_ANSWER): the sender cannot tell which records it has;
        - "all-failed": stores nothing and answers HTTP 200 with FailedPutCount equal to the
          number of records, every entry ErrorCode InternalFailure."""
        assert mode is None or mode in OUTAGE_MODES, mode
        with self._lock:
            self._outage = mode
            if mode is None:
                self._outage_over.set()
            else:
                self._outage_over.clear()

    def pending_faults(self):
        with self._lock:
            return sum(f.count for f in self._faults)

    # -- what arrived --------------------------------------------------------------------------

    def records(self, stream=None):
        with self._lock:
            return [r for r in self._records if stream is None or r.stream == stream]

    def requests(self, service=None, op=None, key=None, status=None, error=None, fault=None):
        with self._lock:
            out = list(self._requests)
        if service is not None:
            out = [r for r in out if r.service == service]
        if op is not None:
            out = [r for r in out if r.op == op]
        if key is not None:
            out = [r for r in out if r.key_id == _key_id(key)]
        if status is not None:
            out = [r for r in out if r.status == status]
        if error is not None:
            out = [r for r in out if r.error == error]
        if fault is not None:
            out = [r for r in out if r.fault and fault in r.fault]
        return out

    def _decode(self, index, rec):
        cached = self._decoded.get(index)
        if cached is None:
            members = R.decode_members(rec.data)
            assert len(members) == 1, (
                f"a Firehose record must be exactly one gzip member, got {len(members)}")
            cached = R.parse_member(members[0])
            self._decoded[index] = cached
        return cached

    def decoded_records(self, stream=None):
        """(StoredRecord, decoded CloudWatch Logs JSON) for every stored record."""
        with self._lock:
            recs = list(enumerate(self._records))
        return [(r, self._decode(i, r)) for i, r in recs if stream is None or r.stream == stream]

    def events(self, stream=None):
        """Flattened events of every stored record (duplicates included), with owner, group,
        stream, `record` (index into records()) and `lost` added."""
        evs = []
        with self._lock:
            recs = list(enumerate(self._records))
        for i, rec in recs:
            if stream is not None and rec.stream != stream:
                continue
            doc = self._decode(i, rec)
            for ev in doc["logEvents"]:
                evs.append(dict(ev, owner=doc["owner"], group=doc["logGroup"],
                                stream=doc["logStream"], record=i, lost=rec.lost))
        return evs

    def wait_events(self, done, timeout=R.WAIT_TIMEOUT, what="events", stream=None):
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events(stream)
            if done(evs):
                return evs
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what} in the Firehose stand-in; "
                    f"have {len(evs)} events: {[e['message'][:120] for e in evs[:20]]}"
                )
            time.sleep(0.05)

    def wait_count(self, n, match=lambda e: True, timeout=R.WAIT_TIMEOUT, stream=None):
        """Waits until n distinct matching events (by event id) are stored."""
        return self.wait_events(
            lambda evs: len({e["id"] for e in evs if match(e)}) >= n, timeout,
            what=f"{n} events", stream=stream,
        )

    def wait_requests(self, done, timeout=R.WAIT_TIMEOUT, what="requests"):
        deadline = time.monotonic() + timeout
        while not done(self.requests()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    # -- relay configuration -------------------------------------------------------------------

    def relay_args(self, stream=DEFAULT_STREAM, region=None, endpoint=None, sts_endpoint=None,
                   owner=None):
        args = ["--stream", stream, "--region", region or self.region,
                "--endpoint-url", endpoint or self.url,
                "--sts-endpoint-url", sts_endpoint or endpoint or self.url]
        if owner is not None:
            args += ["--owner", owner]
        return args

    def relay_env(self, home, credentials="env", key=None):
        """Environment for a relay using the stand-in. `credentials`: "env" (key, default the
        stand-in's default key, in AWS_ACCESS_KEY_ID...), "imds" (the IMDS stand-in), "ecs"
        (the container-credentials stand-in) or None (no credentials anywhere). HOME, the
        config and credentials files point into `home`, so the machine's ~/.aws is never
        read."""
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "no-such-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-such-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        if credentials == "env":
            env.update((key or self.default_key).env())
        elif credentials == "imds":
            env["AWS_EC2_METADATA_DISABLED"] = "false"
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.url
        elif credentials == "ecs":
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.ecs_url
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = self.ecs_token
        else:
            assert credentials is None, credentials
        return env

    # -- internals used by the handler ---------------------------------------------------------

    def _log(self, **kw):
        with self._lock:
            entry = RequestLog(n=len(self._requests), time=_now(), **kw)
            self._requests.append(entry)
            return entry

    def _take_fault(self, op, kinds):
        with self._lock:
            for f in self._faults:
                if f.what["kind"] in kinds and f.matches(op):
                    f.count -= 1
                    what = dict(f.what)
                    self._faults = [x for x in self._faults if x.count > 0]
                    return what
        return None

    def _outage_action(self):
        with self._lock:
            mode = self._outage
            if mode == "mixed":
                mode = ("503", "drop", "blackhole")[self._outage_cycle % 3]
                self._outage_cycle += 1
            return mode


def _key_id(key):
    return key.access_key_id if isinstance(key, Key) else key


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FirehoseStandIn/1.0"
    standin = None  # set per server
    timeout = 120  # idle keep-alive connections end eventually

    def log_message(self, fmt, *args):
        pass  # quiet; the request log is kept in the stand-in

    # -- plumbing ------------------------------------------------------------------------------

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    _answer_delay = 0.0

    def _send(self, status, body, content_type, headers=()):
        if self._answer_delay:
            time.sleep(self._answer_delay)
            self._answer_delay = 0.0
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _reset(self, prefix):
        """Sends `prefix`, then resets the connection: SO_LINGER with a zero timeout makes
        close() send an RST instead of a FIN."""
        self.close_connection = True
        try:
            self.wfile.write(prefix)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _peer_gone(self):
        """True when the client closed the connection while we were slow."""
        try:
            self.connection.setblocking(False)
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except (BlockingIOError, InterruptedError):
                return False
            finally:
                self.connection.setblocking(True)
                self.connection.settimeout(self.timeout)
        except OSError:
            return True

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def _dispatch(self):
        body = self._body()
        path = urlsplit(self.path).path
        try:
            if path.startswith("/latest/"):
                self._imds(path)
            elif path == self.standin.ecs_path:
                self._ecs()
            elif self.headers.get("X-Amz-Target", "").startswith(FIREHOSE_TARGET_PREFIX):
                self._firehose(body)
            elif self.command in ("GET", "POST"):
                self._sts(body)
            else:
                self._send(404, "not found", "text/plain")
        except _DroppedError:
            self._drop()

    def _url(self):
        return f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"

    def _signed_key(self, body, service):
        """The verified Key, or None after answering the service's authentication error."""
        s = self.standin
        try:
            return verify_sigv4(self.command, self._url(), list(self.headers.items()), body,
                                service, s.region, s.key), None
        except SignatureError as e:
            table = FIREHOSE_AUTH_ERRORS if service == "firehose" else STS_AUTH_ERRORS
            status, code = table[e.kind]
            return None, (status, code, e.message, e.key, e.detail)

    # -- Firehose ------------------------------------------------------------------------------

    def _firehose_error(self, log, status, code, message):
        log.status, log.error = status, code
        if code is None:  # not an AWS answer: what a proxy or load balancer sends
            self._send(status, message, "text/html")
            return
        self._send(status, json.dumps({"__type": code, "message": message}),
                   "application/x-amz-json-1.1",
                   [("x-amzn-RequestId", str(uuid.uuid4())), ("x-amzn-ErrorType", code)])

    def _firehose(self, body):
        s = self.standin
        op = self.headers["X-Amz-Target"][len(FIREHOSE_TARGET_PREFIX):]
        log = s._log(service="firehose", op=op)
        if op != "PutRecordBatch":
            return self._firehose_op(s, op, log, body)
        with s._lock:
            s._in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s._in_flight)
        try:
            return self._firehose_op(s, op, log, body)
        finally:
            with s._lock:
                s._in_flight -= 1

    def _firehose_op(self, s, op, log, body):
        if op == "PutRecordBatch":  # counted up front, so refused requests show their size too
            try:
                log.records = len(json.loads(body)["Records"])
            except (ValueError, KeyError, TypeError):
                pass

        with s._lock:
            latency = s._latency
        if latency:
            time.sleep(latency / 2)
            self._answer_delay = latency / 2  # the way back, slept in _send
        self._answer_fault = None
        outage = s._outage_action()
        if outage in ANSWER_FAULTS:
            # Handled where the answer is made, and only for PutRecordBatch.
            self._answer_fault = outage if op == "PutRecordBatch" else None
            outage = None
        if outage is not None:
            log.fault = f"outage-{outage}"
            if outage == "503":
                return self._firehose_error(log, 503, "ServiceUnavailableException",
                                            "Service Unavailable")
            if outage == "blackhole":
                s._outage_over.wait(60)
            raise _DroppedError()
        fault = s._take_fault(op, ("drop",))
        if fault:
            log.fault = "drop"
            raise _DroppedError()
        fault = s._take_fault(op, ("slow",))
        delay = max(s._delay, fault["seconds"] if fault else 0)
        if fault:
            log.add_fault(f"slow-{fault['seconds']}")
        if delay:
            time.sleep(delay)

        key, err = self._signed_key(body, "firehose")
        if err:
            log.key_id = err[3].access_key_id if err[3] else None
            log.detail = err[4]
            return self._firehose_error(log, err[0], err[1], err[2])
        log.key_id = key.access_key_id

        fault = s._take_fault(op, ("error",))
        if fault:
            status, code, message = fault["shape"]
            log.add_fault(f"error-{code or status}")
            return self._firehose_error(log, status, code, message)

        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype not in ("application/x-amz-json-1.1", "application/x-amz-json-1.0"):
            return self._firehose_error(log, 400, "SerializationException",
                                        f"Unexpected Content-Type {ctype!r}")
        try:
            doc = json.loads(body or b"{}")
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._firehose_error(log, 400, "SerializationException",
                                        "Start of structure or map found where not expected.")
        if op == "DescribeDeliveryStream":
            return self._describe(log, key, doc)
        if op == "PutRecordBatch":
            return self._put_record_batch(log, key, doc)
        return self._firehose_error(log, 400, "UnknownOperationException",
                                    f"Operation {op} is not supported by the stand-in")

    def _stream_name_error(self, name):
        if not isinstance(name, str):
            return "1 validation error detected: Value null at 'deliveryStreamName' failed to " \
                   "satisfy constraint: Member must not be null"
        if not STREAM_NAME_RE.match(name):
            return (f"1 validation error detected: Value '{name}' at 'deliveryStreamName' "
                    "failed to satisfy constraint: Member must satisfy regular expression "
                    "pattern: [a-zA-Z0-9_.-]+ and length between 1 and 64")
        return None

    def _describe(self, log, key, doc):
        s = self.standin
        name = doc.get("DeliveryStreamName")
        problem = self._stream_name_error(name)
        if problem:
            return self._firehose_error(log, 400, "ValidationException", problem)
        with s._lock:
            stream = s._streams.get(name)
        if stream is None:
            return self._firehose_error(
                log, 400, "ResourceNotFoundException",
                f"Firehose {name} under account {key.account} not found.")
        arn = f"arn:aws:firehose:{s.region}:{key.account}:deliverystream/{name}"
        desc = {
            "DeliveryStreamName": name,
            "DeliveryStreamARN": arn,
            "DeliveryStreamStatus": stream.status,
            "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
            "DeliveryStreamType": "DirectPut",
            "VersionId": "1",
            "CreateTimestamp": round(stream.created, 3),
            "Destinations": [{
                "DestinationId": "destinationId-000000000001",
                "ExtendedS3DestinationDescription": {
                    "RoleARN": f"arn:aws:iam::{key.account}:role/firehose-{name}",
                    "BucketARN": f"arn:aws:s3:::{name}-bucket",
                    "Prefix": "",
                    "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
                    "CompressionFormat": "UNCOMPRESSED",
                    "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
                    "S3BackupMode": "Disabled",
                },
            }],
            "HasMoreDestinations": False,
        }
        log.status = 200
        self._send(200, json.dumps({"DeliveryStreamDescription": desc}),
                   "application/x-amz-json-1.1", [("x-amzn-RequestId", str(uuid.uuid4()))])

    def _put_record_batch(self, log, key, doc):
        s = self.standin
        name = doc.get("DeliveryStreamName")
        records = doc.get("Records")
        problems = []
        problem = self._stream_name_error(name)
        if problem:
            problems.append(problem.split(": ", 1)[1])
        if not isinstance(records, list):
            problems.append("Value null at 'records' failed to satisfy constraint: "
                            "Member must not be null")
            records = []
        log.records = len(records)
        log.stream = name if isinstance(name, str) else None
        if len(records) > MAX_RECORDS:
            problems.append(f"Value '{records[:1]}...' at 'records' failed to satisfy "
                            f"constraint: Member must have length less than or equal to "
                            f"{MAX_RECORDS}")
        elif not records and isinstance(doc.get("Records"), list):
            problems.append("Value '[]' at 'records' failed to satisfy constraint: "
                            "Member must have length greater than or equal to 1")
        decoded = []
        for i, rec in enumerate(records[:MAX_RECORDS], start=1):
            data = rec.get("Data") if isinstance(rec, dict) else None
            if not isinstance(data, str):
                problems.append(f"Value null at 'records.{i}.member.data' failed to satisfy "
                                "constraint: Member must not be null")
                continue
            try:
                raw = base64.b64decode(data, validate=True)
            except ValueError:
                return self._firehose_error(log, 400, "SerializationException",
                                            f"Base64 encoded value of records.{i}.data is "
                                            "invalid")
            if len(raw) > MAX_RECORD_BYTES:
                problems.append(
                    f"Value 'java.nio.HeapByteBuffer[pos=0 lim={len(raw)} cap={len(raw)}]' at "
                    f"'records.{i}.member.data' failed to satisfy constraint: Member must have "
                    f"length less than or equal to {MAX_RECORD_BYTES}")
            decoded.append(raw)
        if problems:
            n = len(problems)
            return self._firehose_error(
                log, 400, "ValidationException",
                f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems))
        log.bytes = sum(len(d) for d in decoded)
        if log.bytes > MAX_REQUEST_BYTES:
            return self._firehose_error(log, 400, "InvalidArgumentException",
                                        "Records size exceeds 4 MB limit")
        with s._lock:
            stream = s._streams.get(name)
            if stream is None or stream.status != "ACTIVE":
                state = "not found" if stream is None else f"not ACTIVE ({stream.status})"
                return self._firehose_error(
                    log, 400, "ResourceNotFoundException",
                    f"Firehose {name} under account {key.account} {state}.")
            buckets = s._quotas.get(name)
            if buckets:
                for b in buckets.values():
                    if b is not None:
                        b.refill()
                if buckets["requests"] is not None and not buckets["requests"].take(1):
                    log.throttled = True
                    log.add_fault("quota-requests")
                    return self._firehose_error(log, 500, "ServiceUnavailableException",
                                                SLOW_DOWN)
            answers, stored = [], []
            answer_fault = self._answer_fault
            if answer_fault:
                log.add_fault(f"outage-{answer_fault}")
            for raw in decoded:
                if answer_fault == "all-failed":
                    answers.append({"ErrorCode": "InternalFailure",
                                    "ErrorMessage": "We encountered an internal error."})
                    continue
                if s._record_failure_rate and s._random.random() < s._record_failure_rate:
                    answers.append({"ErrorCode": "ServiceUnavailableException",
                                    "ErrorMessage": SLOW_DOWN})
                    continue
                if buckets and not self._within_quota(buckets, len(raw)):
                    log.throttled = True
                    answers.append({"ErrorCode": "ServiceUnavailableException",
                                    "ErrorMessage": SLOW_DOWN})
                    continue
                rid = base64.b64encode(secrets.token_bytes(120)).decode()
                rec = StoredRecord(stream=name, data=raw, record_id=rid, request=log.n,
                                   key_id=key.access_key_id)
                stored.append(rec)
                answers.append({"RecordId": rid})
            failed = sum(1 for a in answers if "ErrorCode" in a)
            log.failed = failed
            # A lost response only counts when it loses something: records were stored.
            lose = s._take_fault("PutRecordBatch", ("lose",)) if stored else None
            if answer_fault in ("reset", "malformed"):
                lose = {"kind": answer_fault}
            if not lose and self._peer_gone():
                # The sender gave up (timeout) while we were slow: it never sees this answer.
                lose = {"kind": "lose", "why": "sender gone"}
            for rec in stored:
                rec.lost = bool(lose)
            s._records.extend(stored)
        if lose and lose["kind"] == "malformed":
            log.status = 200
            self._send(200, MALFORMED_ANSWER, "application/x-amz-json-1.1",
                       [("x-amzn-RequestId", str(uuid.uuid4()))])
            return
        if lose and lose["kind"] == "reset":
            self._reset(RESET_PREFIX)
            return
        if lose:
            log.add_fault("lost-response")
            raise _DroppedError()
        log.status = 200
        self._send(200, json.dumps({"FailedPutCount": failed, "Encrypted": False,
                                    "RequestResponses": answers}),
                   "application/x-amz-json-1.1", [("x-amzn-RequestId", str(uuid.uuid4()))])

    @staticmethod
    def _within_quota(buckets, size):
        """Takes one record of `size` bytes from the record and byte buckets, or nothing."""
        records, data = buckets["records"], buckets["bytes"]
        if records is not None and records.tokens + 1e-9 < 1:
            return False
        if data is not None and not data.take(size):
            return False
        if records is not None:
            records.take(1)
        return True

    # -- STS -----------------------------------------------------------------------------------

    def _sts_send(self, log, status, xml):
        log.status = status
        self._send(status, '<?xml version="1.0" encoding="UTF-8"?>\n' + xml, "text/xml",
                   [("x-amzn-RequestId", str(uuid.uuid4()))])

    def _sts_error(self, log, status, code, message, sender=True):
        log.error = code
        rid = str(uuid.uuid4())
        self._sts_send(log, status, (
            f'<ErrorResponse xmlns="{STS_NS}">\n  <Error>\n'
            f"    <Type>{'Sender' if sender else 'Receiver'}</Type>\n"
            f"    <Code>{xml_escape(code)}</Code>\n"
            f"    <Message>{xml_escape(message)}</Message>\n  </Error>\n"
            f"  <RequestId>{rid}</RequestId>\n</ErrorResponse>\n"))

    def _sts(self, body):
        s = self.standin
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if self.command == "POST" and ctype == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.get("Action")
        log = s._log(service="sts", op=action or "?")
        if not action:
            return self._sts_error(log, 400, "MissingAction", "Missing Action")
        with s._lock:
            delay = s._delay
        if delay:
            time.sleep(delay)
        if action == "AssumeRoleWithWebIdentity":
            return self._assume_role_web_identity(log, params)
        key, err = self._signed_key(body, "sts")
        if err:
            log.key_id = err[3].access_key_id if err[3] else None
            log.detail = err[4]
            return self._sts_error(log, err[0], err[1], err[2])
        log.key_id = key.access_key_id
        fault = s._take_fault(action, ("error",))
        if fault:
            status, code, message = fault["shape"]
            log.fault = f"error-{code or status}"
            return self._sts_error(log, status, code or "InternalFailure", message,
                                   sender=status < 500)
        if params.get("Version") != "2011-06-15":
            return self._sts_error(log, 400, "InvalidAction",
                                   f"Could not find operation {action} for version "
                                   f"{params.get('Version', 'NO_VERSION_SPECIFIED')}")
        if action == "GetCallerIdentity":
            rid = str(uuid.uuid4())
            return self._sts_send(log, 200, (
                f'<GetCallerIdentityResponse xmlns="{STS_NS}">\n'
                "  <GetCallerIdentityResult>\n"
                f"    <Arn>{xml_escape(key.arn)}</Arn>\n"
                f"    <UserId>{xml_escape(key.access_key_id)}</UserId>\n"
                f"    <Account>{xml_escape(key.account)}</Account>\n"
                "  </GetCallerIdentityResult>\n"
                f"  <ResponseMetadata>\n    <RequestId>{rid}</RequestId>\n"
                "  </ResponseMetadata>\n</GetCallerIdentityResponse>\n"))
        if action == "AssumeRole":
            return self._assume_role(log, params, "AssumeRole")
        return self._sts_error(log, 400, "InvalidAction",
                               f"Could not find operation {action} for version 2011-06-15")

    def _issue_for_role(self, params):
        s = self.standin
        role_arn = params.get("RoleArn", "")
        m = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(.+)$", role_arn)
        if not m:
            return None, "ValidationError", f"{role_arn!r} is not a role ARN"
        session = params.get("RoleSessionName", "")
        if not re.match(r"^[\w+=,.@-]{2,64}$", session):
            return None, "ValidationError", ("1 validation error detected: Value at "
                                              "'roleSessionName' failed to satisfy constraint")
        try:
            duration = int(params.get("DurationSeconds", "3600"))
        except ValueError:
            return None, "ValidationError", "DurationSeconds is not a number"
        if not 900 <= duration <= 43200:
            return None, "ValidationError", "DurationSeconds out of range"
        if s.assume_role_seconds is not None:
            duration = s.assume_role_seconds
        account, role = m.group(1), m.group(2).split("/")[-1]
        key = s.add_key(token=True, account=account,
                        arn=f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
                        expires_at=_now() + duration)
        return key, role, session

    def _credentials_xml(self, key, role, session):
        account = key.account
        exp = datetime.datetime.fromtimestamp(key.expires_at, datetime.timezone.utc)
        return (
            f"    <AssumedRoleUser>\n      <Arn>{xml_escape(key.arn)}</Arn>\n"
            f"      <AssumedRoleId>AROA{account}:{xml_escape(session)}</AssumedRoleId>\n"
            "    </AssumedRoleUser>\n    <Credentials>\n"
            f"      <AccessKeyId>{key.access_key_id}</AccessKeyId>\n"
            f"      <SecretAccessKey>{xml_escape(key.secret)}</SecretAccessKey>\n"
            f"      <SessionToken>{xml_escape(key.token)}</SessionToken>\n"
            f"      <Expiration>{exp.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z</Expiration>\n"
            "    </Credentials>\n"
        )

    def _assume_role(self, log, params, action):
        issued = self._issue_for_role(params)
        if issued[0] is None:
            return self._sts_error(log, 400, issued[1], issued[2])
        key, role, session = issued
        rid = str(uuid.uuid4())
        return self._sts_send(log, 200, (
            f'<{action}Response xmlns="{STS_NS}">\n  <{action}Result>\n'
            + self._credentials_xml(key, role, session)
            + ("    <SubjectFromWebIdentityToken>kinesyslog-test</SubjectFromWebIdentityToken>\n"
               "    <Audience>sts.amazonaws.com</Audience>\n"
               "    <Provider>oidc.stand-in.example</Provider>\n"
               if action == "AssumeRoleWithWebIdentity" else
               "    <PackedPolicySize>6</PackedPolicySize>\n")
            + f"  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{rid}</RequestId>\n"
            f"  </ResponseMetadata>\n</{action}Response>\n"))

    def _assume_role_web_identity(self, log, params):
        s = self.standin
        token = params.get("WebIdentityToken", "")
        with s._lock:
            allowed = s._web_identity_tokens
        if not token or (allowed is not None and token not in allowed):
            return self._sts_error(log, 400, "InvalidIdentityToken",
                                   "The web identity token that was passed could not be "
                                   "validated by AWS. Get a new identity token from the "
                                   "identity provider and then retry the request.")
        return self._assume_role(log, params, "AssumeRoleWithWebIdentity")

    # -- IMDSv2 --------------------------------------------------------------------------------

    def _imds(self, path):
        s = self.standin
        log = s._log(service="imds", op=f"{self.command} {path}")
        if path == "/latest/api/token":
            if self.command != "PUT":
                log.status = 405
                return self._send(405, "", "text/plain")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                log.status = 400
                return self._send(400, "", "text/plain")
            token = base64.b64encode(secrets.token_bytes(42)).decode()
            with s._lock:
                s._imds_tokens[token] = _now() + int(ttl)
            log.status = 200
            return self._send(200, token, "text/plain",
                              [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
        token = self.headers.get("X-aws-ec2-metadata-token")
        with s._lock:
            valid = token is not None and s._imds_tokens.get(token, 0) > _now()
            role = s._imds_role
        if self.command != "GET":
            log.status = 405
            return self._send(405, "", "text/plain")
        if not valid:  # IMDSv2 required (HttpTokens=required)
            log.status = 401
            return self._send(401, "", "text/plain")
        # Real IMDS answers with or without a trailing slash (botocore asks for
        # placement/availability-zone/).
        path = path.rstrip("/")
        prefix = "/latest/meta-data/iam/security-credentials"
        if path == "/latest/meta-data/placement/region":
            log.status = 200
            return self._send(200, s.region, "text/plain")
        if path == "/latest/meta-data/placement/availability-zone":
            log.status = 200
            return self._send(200, s.region + "a", "text/plain")
        if path == "/latest/dynamic/instance-identity/document":
            log.status = 200
            return self._send(200, json.dumps({"region": s.region, "accountId": s.account,
                                               "instanceId": "i-0123456789abcdef0"}),
                              "application/json")
        if path == prefix and role is not None:
            log.status = 200
            return self._send(200, role[0], "text/plain")
        if role is not None and path == prefix + "/" + role[0]:
            key = role[1]
            log.status, log.key_id = 200, key.access_key_id
            return self._send(200, json.dumps({
                "Code": "Success",
                "LastUpdated": iso8601_z(_now()),
                "Type": "AWS-HMAC",
                "AccessKeyId": key.access_key_id,
                "SecretAccessKey": key.secret,
                "Token": key.token,
                "Expiration": key.expiration(),
            }, indent=2), "text/plain")
        log.status = 404
        return self._send(404, "<html><body>404 - Not Found</body></html>", "text/html")

    # -- ECS container credentials -------------------------------------------------------------

    def _ecs(self):
        s = self.standin
        log = s._log(service="ecs", op=f"{self.command} {self.path}")
        with s._lock:
            key = s._ecs_key
        if self.headers.get("Authorization") != s.ecs_token:
            log.status = 401
            return self._send(401, json.dumps({"code": "InvalidToken",
                                               "message": "Authorization token is invalid"}),
                              "application/json")
        if key is None:
            log.status = 404
            return self._send(404, json.dumps({"code": "NoCredentials",
                                               "message": "No credentials for this task"}),
                              "application/json")
        log.status, log.key_id = 200, key.access_key_id
        return self._send(200, json.dumps({
            "AccessKeyId": key.access_key_id,
            "SecretAccessKey": key.secret,
            "Token": key.token,
            "Expiration": key.expiration(),
            "RoleArn": f"arn:aws:iam::{key.account}:role/kinesyslog-task",
        }), "application/json")


def main(argv=None):
    """Runs the stand-in on its own, e.g. to try a relay by hand against a quota over a slow
    link: prints the endpoint and the environment for the relay, serves until interrupted."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--stream", action="append", default=[],
                    help=f"an ACTIVE stream (repeatable; default {DEFAULT_STREAM})")
    ap.add_argument("--latency-ms", type=float, default=0,
                    help="round trip added to every Firehose answer, in milliseconds")
    ap.add_argument("--quota-bytes", type=float, help="bytes/s per stream (Firehose: 1 or 5 MiB)")
    ap.add_argument("--quota-records", type=float, help="records/s per stream")
    ap.add_argument("--quota-requests", type=float, help="requests/s per stream")
    args = ap.parse_args(argv)
    standin = FirehoseStandIn()
    for name in args.stream:
        standin.add_stream(name)
    standin.set_latency(args.latency_ms / 1000)
    for name in args.stream or [DEFAULT_STREAM]:
        standin.set_quota(name, args.quota_bytes, args.quota_records, args.quota_requests)
    standin.start(args.port)
    print(f"Firehose stand-in at {standin.url}; streams {', '.join(args.stream or [DEFAULT_STREAM])}")
    for k, v in standin.default_key.env().items():
        print(f"export {k}={v}")
    print(f"relay options: --region {standin.region} --endpoint-url {standin.url} "
          f"--sts-endpoint-url {standin.url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
        n, throttled, refused = standin.throttle_counts()
        print(f"{len(standin.records())} records stored; {n} PutRecordBatch requests, "
              f"{throttled} throttled, {refused} records refused by the quota")


if __name__ == "__main__":
    main()
