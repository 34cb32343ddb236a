"""A Kinesis handler built on AWS Lambda Powertools' batch utility.

    python3 -m awslambdaric powertools_handler.handler

`BatchProcessor(event_type=EventType.KinesisDataStreams)` + `process_partial_response` call
`record_handler` once per record and turn every record that raised into a
`{"batchItemFailures": [{"itemIdentifier": <sequenceNumber>}]}` entry, so this needs
FunctionResponseTypes [ReportBatchItemFailures].

Note Powertools' own rule: when *every* record in the batch fails, `process_partial_response`
raises `BatchProcessingError`, so the invoke is a function error (not a partial response).
"""

import sys

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


class PoisonRecordError(Exception):
    pass


def record_handler(record: KinesisStreamRecord):
    payload = record.kinesis.data_as_json()
    if isinstance(payload, dict) and payload.get("poison") is True:
        raise PoisonRecordError(f"poison record {record.kinesis.sequence_number}")
    return payload


def handler(event, context):
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failed = len(response.get("batchItemFailures", []))
    print(f"powertools handled {len(event.get('Records', []))} records, {failed} failed", file=sys.stderr, flush=True)
    return response
