"""The Firehose stand-in is faithful: boto3 and botocore themselves call it (the integration tests' AWS stand-ins).

boto3 parses every answer with the service models, so a wrong shape fails here; wrong signatures
are refused with the services' own error codes; limits, IMDSv2 and ECS credentials, and each
fault injection are checked from the client's side."""

import datetime
import gzip
import json
import time
import urllib.error
import urllib.request

import boto3
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import ContainerProvider, Credentials, InstanceMetadataProvider
from botocore.exceptions import (ClientError, ConnectionClosedError, CredentialRetrievalError,
                                 ReadTimeoutError)
from botocore.utils import (ContainerMetadataFetcher, InstanceMetadataFetcher,
                            InstanceMetadataRegionFetcher)

import firehose_standin as F
import relay as R

STREAM = F.DEFAULT_STREAM
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                  read_timeout=10)


def client(standin, service, key=None, region=None, config=NO_RETRY, secret=None, token=None):
    key = key or standin.default_key
    return boto3.session.Session().client(
        service,
        region_name=region or standin.region,
        endpoint_url=standin.url,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=secret or key.secret,
        aws_session_token=token if token is not None else key.token,
        config=config,
    )


def cwl_record(messages, owner="123456789012"):
    doc = {"owner": owner, "logGroup": "syslog_message", "logStream": "127.0.0.1",
           "subscriptionFilters": ["syslog_message"], "messageType": "DATA_MESSAGE",
           "logEvents": [{"id": "363f3136-9356-443b-9eee-ce72d32d2307", "timestamp": 1,
                          "message": m} for m in messages]}
    return gzip.compress(json.dumps(doc).encode())


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]


# ---------------------------------------------------------------------------------------------
# Firehose and STS answers as boto3 parses them


def test_boto3_put_record_batch_and_describe(firehose):
    fh = client(firehose, "firehose")
    desc = fh.describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamName"] == STREAM
    assert desc["DeliveryStreamStatus"] == "ACTIVE"
    assert desc["DeliveryStreamARN"].endswith(f":deliverystream/{STREAM}")
    assert isinstance(desc["CreateTimestamp"], datetime.datetime)

    data = [cwl_record([f"hello {i}"]) for i in range(3)]
    out = fh.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": d} for d in data])
    assert out["FailedPutCount"] == 0 and out["Encrypted"] is False
    ids = [r["RecordId"] for r in out["RequestResponses"]]
    assert len(ids) == 3 and len(set(ids)) == 3
    stored = firehose.records(STREAM)
    assert [r.data for r in stored] == data
    assert [r.record_id for r in stored] == ids
    assert all(r.key_id == firehose.default_key.access_key_id and not r.lost for r in stored)

    # Decoding what was stored, as the relay tests do (one gzip member per record).
    msgs = [e["message"] for e in firehose.events(STREAM)]
    assert msgs == ["hello 0", "hello 1", "hello 2"]

    # Empty records are valid (the model's minimum length is 0).
    firehose.add_stream("other")
    fh.put_record_batch(DeliveryStreamName="other", Records=[{"Data": b""}])
    assert [r.data for r in firehose.records("other")] == [b""]

    reqs = firehose.requests(service="firehose")
    assert [(r.op, r.status) for r in reqs] == [
        ("DescribeDeliveryStream", 200), ("PutRecordBatch", 200), ("PutRecordBatch", 200)]


def test_boto3_unknown_and_inactive_stream(firehose):
    fh = client(firehose, "firehose")
    with pytest.raises(ClientError) as e:
        fh.describe_delivery_stream(DeliveryStreamName="no-such-stream")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 400)
    assert isinstance(e.value, fh.exceptions.ResourceNotFoundException)

    firehose.add_stream("creating", status="CREATING")
    desc = fh.describe_delivery_stream(DeliveryStreamName="creating")
    assert desc["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "CREATING"
    with pytest.raises(fh.exceptions.ResourceNotFoundException):
        fh.put_record_batch(DeliveryStreamName="creating", Records=[{"Data": b"x"}])
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName="bad name!", Records=[{"Data": b"x"}])
    assert error_of(e)[:2] == ("ValidationException", 400)


def test_boto3_sts_get_caller_identity(firehose):
    ident = client(firehose, "sts").get_caller_identity()
    assert ident["Account"] == firehose.account
    assert ident["UserId"] == firehose.default_key.access_key_id
    assert ident["Arn"].startswith(f"arn:aws:iam::{firehose.account}:")

    temp = firehose.add_key(token=True, account="210987654321")
    ident = client(firehose, "sts", key=temp).get_caller_identity()
    assert ident["Account"] == "210987654321"
    assert firehose.requests(service="sts", key=temp)[0].status == 200


def test_boto3_assume_role_and_web_identity(firehose):
    sts = client(firehose, "sts")
    out = sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/relay", RoleSessionName="t1")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] > datetime.datetime.now(datetime.timezone.utc)
    assert out["AssumedRoleUser"]["Arn"].endswith("assumed-role/relay/t1")
    issued = firehose.key(creds["AccessKeyId"])
    fh = client(firehose, "firehose", key=issued)
    fh.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": b"assumed"}])
    assert firehose.records()[-1].key_id == issued.access_key_id
    ident = client(firehose, "sts", key=issued).get_caller_identity()
    assert ident["Account"] == "111122223333"

    # Unsigned, as botocore sends it.
    firehose.accept_web_identity_tokens(["good-token"])
    anon = boto3.session.Session().client(
        "sts", region_name=firehose.region, endpoint_url=firehose.url,
        config=Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}))
    out = anon.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::111122223333:role/irsa", RoleSessionName="pod",
        WebIdentityToken="good-token")
    assert out["Credentials"]["SessionToken"]
    with pytest.raises(ClientError) as e:
        anon.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::111122223333:role/irsa", RoleSessionName="pod",
            WebIdentityToken="forged")
    assert error_of(e)[:2] == ("InvalidIdentityToken", 400)


# ---------------------------------------------------------------------------------------------
# Limits (PutRecordBatch API reference): 500 records, 1,024,000 bytes a record, 4 MiB a request


def test_limits_with_service_error_shapes(firehose):
    fh = client(firehose, "firehose")
    ok = fh.put_record_batch(DeliveryStreamName=STREAM,
                             Records=[{"Data": b"r%d" % i} for i in range(500)])
    assert ok["FailedPutCount"] == 0 and len(ok["RequestResponses"]) == 500

    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=STREAM,
                            Records=[{"Data": b"r%d" % i} for i in range(501)])
    code, status, err = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert "less than or equal to 500" in err["Message"]

    fh.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": b"a" * 1_024_000}])
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=STREAM,
                            Records=[{"Data": b"b"}, {"Data": b"a" * 1_024_001}])
    code, status, err = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert "'records.2.member.data'" in err["Message"] and "1024000" in err["Message"]

    # 4 x 1,024,000 = 4,096,000 <= 4 MiB; 4 MiB + 1 is refused as a whole.
    fh.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": b"c" * 1_024_000}] * 4)
    before = len(firehose.records())
    rest = F.MAX_REQUEST_BYTES - 4_000_000 + 1
    big = [{"Data": b"d" * 1_000_000}] * 4 + [{"Data": b"e" * rest}]
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName=STREAM, Records=big)
    code, status, err = error_of(e)
    assert (code, status) == ("InvalidArgumentException", 400)
    assert isinstance(e.value, fh.exceptions.InvalidArgumentException)
    assert "4 MB" in err["Message"]
    assert len(firehose.records()) == before, "a refused request stores nothing"


# ---------------------------------------------------------------------------------------------
# Signatures: checked with botocore's signer, refused with each service's error shape


def test_wrong_secret_refused(firehose):
    with pytest.raises(ClientError) as e:
        client(firehose, "firehose", secret="not-the-secret").describe_delivery_stream(
            DeliveryStreamName=STREAM)
    code, status, err = error_of(e)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert "signature we calculated does not match" in err["Message"]

    with pytest.raises(ClientError) as e:
        client(firehose, "sts", secret="not-the-secret").get_caller_identity()
    code, status, err = error_of(e)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert err["Type"] == "Sender"

    rejected = firehose.requests(error="InvalidSignatureException")
    assert rejected and rejected[0].key_id == firehose.default_key.access_key_id
    assert not firehose.records()


def test_raw_error_bodies(firehose):
    """The exact bytes on the wire, as the relay's own parser sees them."""
    key = firehose.default_key
    bad = F.Key(key.access_key_id, "wrong-secret")
    status, headers, body = send_signed(firehose, bad, "firehose", firehose_request(
        firehose, "DescribeDeliveryStream", {"DeliveryStreamName": STREAM}))
    assert status == 400
    doc = json.loads(body)
    assert doc["__type"] == "InvalidSignatureException" and doc["message"]
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-RequestId"]

    status, headers, body = send_signed(firehose, bad, "sts", sts_request(firehose))
    assert status == 403
    assert b"<ErrorResponse" in body and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert headers["Content-Type"] == "text/xml"


def test_unknown_revoked_and_token_mismatch(firehose):
    ghost = F.Key("AKIAGHOSTGHOSTGHOST0", "secret")
    with pytest.raises(ClientError) as e:
        client(firehose, "firehose", key=ghost).describe_delivery_stream(
            DeliveryStreamName=STREAM)
    assert error_of(e)[:2] == ("UnrecognizedClientException", 400)
    with pytest.raises(ClientError) as e:
        client(firehose, "sts", key=ghost).get_caller_identity()
    assert error_of(e)[:2] == ("InvalidClientTokenId", 403)

    temp = firehose.add_key(token=True)
    with pytest.raises(ClientError) as e:  # session token left out
        client(firehose, "firehose", key=temp, token="").put_record_batch(
            DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])
    assert error_of(e)[:2] == ("UnrecognizedClientException", 400)
    with pytest.raises(ClientError) as e:  # someone else's token
        client(firehose, "firehose", key=temp, token="Zm9yZ2Vk").put_record_batch(
            DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])
    assert error_of(e)[:2] == ("UnrecognizedClientException", 400)
    client(firehose, "firehose", key=temp).put_record_batch(
        DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])

    firehose.revoke_key(temp)
    with pytest.raises(ClientError) as e:
        client(firehose, "firehose", key=temp).put_record_batch(
            DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])
    assert error_of(e)[:2] == ("ExpiredTokenException", 400)
    with pytest.raises(ClientError) as e:
        client(firehose, "sts", key=temp).get_caller_identity()
    assert error_of(e)[:2] == ("ExpiredToken", 400)

    expired = firehose.add_key(token=True, expires_at=time.time() - 1)
    with pytest.raises(ClientError) as e:
        client(firehose, "firehose", key=expired).describe_delivery_stream(
            DeliveryStreamName=STREAM)
    assert error_of(e)[:2] == ("ExpiredTokenException", 400)

    firehose.remove_key(firehose.default_key)
    with pytest.raises(ClientError) as e:
        client(firehose, "firehose").describe_delivery_stream(DeliveryStreamName=STREAM)
    assert error_of(e)[:2] == ("UnrecognizedClientException", 400)


def test_wrong_region_and_service_scope(firehose):
    with pytest.raises(ClientError) as e:
        client(firehose, "firehose", region="eu-west-1").describe_delivery_stream(
            DeliveryStreamName=STREAM)
    code, status, err = error_of(e)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert "eu-west-1" in err["Message"]
    # A Firehose request signed for "sts".
    status, _, body = send_signed(firehose, firehose.default_key, "sts", firehose_request(
        firehose, "DescribeDeliveryStream", {"DeliveryStreamName": STREAM}))
    assert status == 400 and json.loads(body)["__type"] == "InvalidSignatureException"


def firehose_request(standin, op, doc):
    return AWSRequest(method="POST", url=standin.url + "/", data=json.dumps(doc).encode(),
                      headers={"X-Amz-Target": F.FIREHOSE_TARGET_PREFIX + op,
                               "Content-Type": "application/x-amz-json-1.1"})


def sts_request(standin):
    return AWSRequest(method="POST", url=standin.url + "/",
                      data=b"Action=GetCallerIdentity&Version=2011-06-15",
                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


def sign(request, key, service, region, when=None):
    """botocore's SigV4 for a chosen time (add_auth always uses now)."""
    when = time.time() if when is None else when
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret, key.token), service, region)
    request.context["timestamp"] = F.iso_basic(when)
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    return request


def send(request):
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=prepared.body, method=prepared.method,
                                 headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def send_signed(standin, key, service, request, when=None, region=None):
    return send(sign(request, key, service, region or standin.region, when))


def test_signature_details(firehose):
    key = firehose.default_key
    describe = {"DeliveryStreamName": STREAM}
    # Control: botocore's signature by hand, sent by urllib, is accepted.
    status, _, body = send_signed(firehose, key, "firehose",
                                  firehose_request(firehose, "DescribeDeliveryStream", describe))
    assert status == 200, body
    assert send_signed(firehose, key, "sts", sts_request(firehose))[0] == 200

    # Unsigned.
    status, _, body = send(firehose_request(firehose, "DescribeDeliveryStream", describe))
    assert (status, json.loads(body)["__type"]) == (400, "MissingAuthenticationTokenException")
    status, _, body = send(sts_request(firehose))
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in body

    # Signed 10 minutes ago: outside the 5-minute window.
    status, _, body = send_signed(firehose, key, "firehose",
                                  firehose_request(firehose, "DescribeDeliveryStream", describe),
                                  when=time.time() - 600)
    doc = json.loads(body)
    assert (status, doc["__type"]) == (400, "InvalidSignatureException")
    assert "Signature expired" in doc["message"]

    # The body changed after signing.
    req = sign(firehose_request(firehose, "DescribeDeliveryStream", describe), key, "firehose",
               firehose.region)
    req.data = json.dumps({"DeliveryStreamName": "other-stream"}).encode()
    status, _, body = send(req)
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")

    # A signed header changed after signing.
    req = sign(firehose_request(firehose, "DescribeDeliveryStream", describe), key, "firehose",
               firehose.region)
    req.headers.replace_header("X-Amz-Target", F.FIREHOSE_TARGET_PREFIX + "PutRecordBatch")
    status, _, body = send(req)
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")

    # An x-amz-* header added after signing.
    req = sign(firehose_request(firehose, "DescribeDeliveryStream", describe), key, "firehose",
               firehose.region)
    req.headers["X-Amz-Meta-Extra"] = "1"
    status, _, body = send(req)
    assert (status, json.loads(body)["__type"]) == (400, "InvalidSignatureException")

    # An unsigned ordinary header added after signing is fine (as User-Agent is).
    req = sign(firehose_request(firehose, "DescribeDeliveryStream", describe), key, "firehose",
               firehose.region)
    req.headers["X-Forwarded-For"] = "192.0.2.1"
    assert send(req)[0] == 200

    # Query-string STS (GET) is verified too.
    req = AWSRequest(method="GET",
                     url=firehose.url + "/?Action=GetCallerIdentity&Version=2011-06-15")
    status, _, body = send_signed(firehose, key, "sts", req)
    assert status == 200 and b"<Account>123456789012</Account>" in body


# ---------------------------------------------------------------------------------------------
# Fault injection, seen from boto3


def test_injected_request_errors(firehose):
    fh = client(firehose, "firehose")
    put = dict(DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])
    cases = [("ThrottlingException", 400), ("ServiceUnavailableException", 500),
             ("InternalFailure", 500), ("503", 503)]
    for error, status in cases:
        firehose.fail_next(1, error)
        with pytest.raises(ClientError) as e:
            fh.put_record_batch(**put)
        assert error_of(e)[:2] == (F.ERRORS[error][1], status), error
    firehose.fail_next(1, "502-raw")
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(**put)
    assert error_of(e)[1] == 502
    assert firehose.pending_faults() == 0
    # Describe is not affected by PutRecordBatch faults.
    firehose.fail_next(1, "ThrottlingException")
    fh.describe_delivery_stream(DeliveryStreamName=STREAM)
    assert firehose.pending_faults() == 1
    assert not firehose.records()

    # botocore's own retry logic treats these shapes as retryable: throttled twice, then stored.
    retrying = client(firehose, "firehose", config=Config(
        retries={"total_max_attempts": 4, "mode": "standard"}))
    firehose.fail_next(1, "InternalFailure")
    out = retrying.put_record_batch(**put)
    assert out["FailedPutCount"] == 0
    faulted = firehose.requests(op="PutRecordBatch", fault="error")
    assert [r.error for r in faulted[-2:]] == ["ThrottlingException", "InternalFailure"]
    assert len(firehose.records()) == 1


def test_per_record_failures(firehose):
    fh = client(firehose, "firehose")
    firehose.set_record_failure_rate(1.0)
    out = fh.put_record_batch(DeliveryStreamName=STREAM,
                              Records=[{"Data": b"%d" % i} for i in range(5)])
    assert out["FailedPutCount"] == 5
    assert all(r == {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
               for r in out["RequestResponses"])
    assert not firehose.records()

    firehose.set_record_failure_rate(0.3, seed=7)
    out = fh.put_record_batch(DeliveryStreamName=STREAM,
                              Records=[{"Data": b"%d" % i} for i in range(500)])
    failed = [i for i, r in enumerate(out["RequestResponses"]) if "ErrorCode" in r]
    assert out["FailedPutCount"] == len(failed)
    assert 100 < len(failed) < 200
    assert [r.data for r in firehose.records()] == [
        b"%d" % i for i in range(500) if i not in failed]
    firehose.set_record_failure_rate(0)
    assert fh.put_record_batch(DeliveryStreamName=STREAM,
                               Records=[{"Data": b"x"}] * 50)["FailedPutCount"] == 0


def test_dropped_lost_and_slow(firehose):
    fh = client(firehose, "firehose")
    put = dict(DeliveryStreamName=STREAM, Records=[{"Data": b"lost?"}])
    firehose.drop_next(1)
    with pytest.raises(ConnectionClosedError):
        fh.put_record_batch(**put)
    assert not firehose.records(), "a dropped request is not processed"

    firehose.lose_next(1)
    with pytest.raises(ConnectionClosedError):
        fh.put_record_batch(**put)
    (rec,) = firehose.records()
    assert rec.lost and rec.data == b"lost?"
    assert firehose.requests(fault="lost-response")[0].status is None

    firehose.slow_next(1, 1.0)
    start = time.monotonic()
    fh.put_record_batch(**put)
    assert time.monotonic() - start >= 1.0
    assert [r.lost for r in firehose.records()] == [True, False]

    # A sender that times out while the stand-in is slow never sees the answer: lost.
    impatient = client(firehose, "firehose", config=Config(
        retries={"total_max_attempts": 1}, read_timeout=0.5))
    firehose.slow_next(1, 1.5)
    with pytest.raises(ReadTimeoutError):
        impatient.put_record_batch(**put)
    deadline = time.monotonic() + 5
    while len(firehose.records()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.lost for r in firehose.records()] == [True, False, True]


def test_outage_modes(firehose):
    fh = client(firehose, "firehose", config=Config(
        retries={"total_max_attempts": 1}, read_timeout=1, connect_timeout=2))
    put = dict(DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])
    firehose.set_outage("503")
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(**put)
    assert error_of(e)[:2] == ("ServiceUnavailableException", 503)
    firehose.set_outage("drop")
    with pytest.raises(ConnectionClosedError):
        fh.put_record_batch(**put)
    firehose.set_outage("blackhole")
    with pytest.raises(ReadTimeoutError):
        fh.put_record_batch(**put)
    firehose.set_outage("mixed")
    kinds = []
    for _ in range(3):
        try:
            fh.put_record_batch(**put)
        except (ClientError, ConnectionClosedError, ReadTimeoutError) as exc:
            kinds.append(ClientError if isinstance(exc, ClientError) else type(exc))
    assert set(kinds) == {ClientError, ConnectionClosedError, ReadTimeoutError}
    firehose.set_outage(None)
    assert fh.put_record_batch(**put)["FailedPutCount"] == 0
    assert len(firehose.records()) == 1
    # STS is not part of a Firehose outage.
    firehose.set_outage("drop")
    assert client(firehose, "sts").get_caller_identity()["Account"] == firehose.account
    firehose.set_outage(None)


def test_broken_answer_outage_modes(firehose):
    """"reset", "malformed" and "all-failed" as botocore sees them: a connection error, an
    answer it cannot parse, every record failed; the records the first two stored are flagged
    lost, "all-failed" stores none, and other operations are answered normally."""
    fh = client(firehose, "firehose")
    put = dict(DeliveryStreamName=STREAM, Records=[{"Data": b"x"}, {"Data": b"y"}])
    firehose.set_outage("reset")
    with pytest.raises((ConnectionClosedError, botocore.exceptions.ConnectionError,
                        urllib3_protocol_error())):
        fh.put_record_batch(**put)
    assert [r.lost for r in firehose.records()] == [True, True]
    firehose.set_outage("malformed")
    # botocore's JSON parser does not raise on a body it cannot parse: the answer it gives has
    # no RequestResponses, so a client cannot tell which records were taken.
    answer = fh.put_record_batch(**put)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "RequestResponses" not in answer, answer
    assert [r.lost for r in firehose.records()] == [True] * 4
    firehose.set_outage("all-failed")
    answer = fh.put_record_batch(**put)
    assert answer["FailedPutCount"] == 2
    assert [x["ErrorCode"] for x in answer["RequestResponses"]] == ["InternalFailure"] * 2
    assert len(firehose.records()) == 4
    desc = fh.describe_delivery_stream(DeliveryStreamName=STREAM)
    assert desc["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    firehose.set_outage(None)
    assert fh.put_record_batch(**put)["FailedPutCount"] == 0
    assert [r.lost for r in firehose.records()] == [True] * 4 + [False] * 2


def urllib3_protocol_error():
    import urllib3.exceptions

    return urllib3.exceptions.ProtocolError


# ---------------------------------------------------------------------------------------------
# IMDSv2 and ECS container credentials, fetched by botocore's own providers


def test_imds_credentials_with_botocore(firehose):
    temp = firehose.add_key(token=True, expires_at=time.time() + 11 * 60)
    firehose.set_imds_role("relay-role", temp)
    # env={}: the fixture's AWS_EC2_METADATA_DISABLED=true is for the relay, not for this.
    fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=firehose.url, env={})
    creds = InstanceMetadataProvider(iam_role_fetcher=fetcher).load()
    assert creds is not None
    frozen = creds.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        temp.access_key_id, temp.secret, temp.token)
    assert InstanceMetadataRegionFetcher(
        timeout=2, num_attempts=1, base_url=firehose.url, env={}
    ).retrieve_region() == firehose.region
    # The IMDSv2 session token was used for every GET.
    imds = firehose.requests(service="imds")
    assert imds[0].op == "PUT /latest/api/token"
    assert all(r.status == 200 for r in imds)

    # IMDSv1 (no token) is refused, as on an instance with HttpTokens=required.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(firehose.url + "/latest/meta-data/iam/security-credentials/",
                               timeout=5)
    assert e.value.code == 401
    req = urllib.request.Request(firehose.url + "/latest/api/token", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:  # TTL header required
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400

    # The keys work against Firehose, session token included.
    fh = client(firehose, "firehose", key=temp)
    fh.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": b"imds"}])
    assert firehose.records()[-1].key_id == temp.access_key_id


def test_ecs_credentials_with_botocore(firehose):
    temp = firehose.add_key(token=True, expires_at=time.time() + 3600)
    firehose.set_ecs_key(temp)
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": firehose.ecs_url,
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": firehose.ecs_token}
    frozen = ContainerProvider(environ=env).load().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        temp.access_key_id, temp.secret, temp.token)
    ecs = firehose.requests(service="ecs")
    assert [r.status for r in ecs] == [200]

    bad = dict(env, AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong")
    with pytest.raises(CredentialRetrievalError):
        ContainerProvider(environ=bad, fetcher=ContainerMetadataFetcher(
            sleep=lambda seconds: None)).load()
    assert firehose.requests(service="ecs")[-1].status == 401


def test_relay_env_never_reads_machine_aws(firehose, tmp_path):
    env = firehose.relay_env(tmp_path / "relay-home")
    assert env["AWS_ACCESS_KEY_ID"] == firehose.default_key.access_key_id
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert not (tmp_path / "relay-home" / "no-such-aws-config").exists()
    full = R.relay_env(env)
    assert not [k for k in full if k.startswith("AWS_") and k not in env]


# -- quota model ------------------------------------------------------------------------------

class ManualClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_quota_bytes_fail_records_one_by_one_as_firehose_does(firehose):
    clock = ManualClock()
    firehose.set_quota(STREAM, bytes_per_second=2_000_000, clock=clock)
    fh = client(firehose, "firehose")
    # The bucket holds 2,000,000 bytes: three 900,000-byte records, the third does not fit.
    big = [{"Data": bytes([i]) * 900_000} for i in range(3)]
    out = fh.put_record_batch(DeliveryStreamName=STREAM, Records=big)
    assert out["FailedPutCount"] == 1
    assert [("RecordId" in r) for r in out["RequestResponses"]] == [True, True, False]
    assert out["RequestResponses"][2]["ErrorCode"] == "ServiceUnavailableException"
    assert out["RequestResponses"][2]["ErrorMessage"] == "Slow down."
    assert [r.data[:1] for r in firehose.records()] == [b"\x00", b"\x01"]
    # Half a second refills 1,000,000 bytes: one more record, not two.
    clock.now += 0.5
    out = fh.put_record_batch(DeliveryStreamName=STREAM, Records=big[:2])
    assert out["FailedPutCount"] == 1
    assert firehose.throttle_counts(STREAM) == (2, 2, 2)
    # Other streams are not metered.
    firehose.add_stream("other")
    out = fh.put_record_batch(DeliveryStreamName="other", Records=big)
    assert out["FailedPutCount"] == 0
    assert firehose.throttle_counts("other") == (1, 0, 0)


def test_quota_records_per_second(firehose):
    clock = ManualClock()
    firehose.set_quota(STREAM, records_per_second=5, clock=clock)
    fh = client(firehose, "firehose")
    small = [{"Data": b"r%d" % i} for i in range(8)]
    out = fh.put_record_batch(DeliveryStreamName=STREAM, Records=small)
    assert out["FailedPutCount"] == 3
    assert [r.data for r in firehose.records()] == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    clock.now += 1.0  # five more, never more than the bucket's one second
    clock.now += 10.0
    out = fh.put_record_batch(DeliveryStreamName=STREAM, Records=small)
    assert out["FailedPutCount"] == 3


def test_quota_requests_refuse_the_whole_request(firehose):
    clock = ManualClock()
    firehose.set_quota(STREAM, requests_per_second=2, clock=clock)
    fh = client(firehose, "firehose")
    put = dict(DeliveryStreamName=STREAM, Records=[{"Data": b"x"}])
    fh.put_record_batch(**put)
    fh.put_record_batch(**put)
    with pytest.raises(ClientError) as excinfo:
        fh.put_record_batch(**put)
    code, status, err = error_of(excinfo)
    # The modeled PutRecordBatch error for exceeded throughput: a server fault, HTTP 500.
    assert (code, status, err["Message"]) == ("ServiceUnavailableException", 500, "Slow down.")
    assert isinstance(excinfo.value, fh.exceptions.ServiceUnavailableException)
    assert len(firehose.records()) == 2
    clock.now += 0.5
    fh.put_record_batch(**put)
    assert len(firehose.records()) == 3
    assert firehose.throttle_counts() == (4, 1, 0)
    # Switched off: unmetered again.
    firehose.set_quota(STREAM)
    for _ in range(5):
        fh.put_record_batch(**put)
    assert len(firehose.records()) == 8


def test_latency_delays_every_firehose_answer(firehose):
    fh = client(firehose, "firehose")
    firehose.set_latency(0.3)
    start = time.monotonic()
    fh.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": b"far"}])
    assert time.monotonic() - start >= 0.3
    firehose.set_latency(0)
    assert len(firehose.records()) == 1


def test_standin_as_a_program_takes_latency_and_quota(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    port = R.free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(F.__file__)), "--port", str(port), "--stream", "a",
         "--latency-ms", "50", "--quota-requests", "1"],
        stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Firehose stand-in at http://127.0.0.1:"), first
        env = {}
        for line in iter(proc.stdout.readline, ""):
            if line.startswith("relay options"):
                break
            name, value = line[len("export "):].strip().split("=", 1)
            env[name] = value
        url = first.split()[3].rstrip(";")
        fh = boto3.session.Session().client(
            "firehose", region_name=F.DEFAULT_REGION, endpoint_url=url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], config=NO_RETRY)
        fh.put_record_batch(DeliveryStreamName="a", Records=[{"Data": b"1"}])
        with pytest.raises(ClientError):
            fh.put_record_batch(DeliveryStreamName="a", Records=[{"Data": b"2"}])
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "1 records stored; 2 PutRecordBatch requests, 1 throttled" in out
