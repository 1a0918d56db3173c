"""Dead letters: records a consumer cannot act on, set aside with why, so the partition moves on.

A dead letter keeps the record's key, value and headers as they were read, so it can be
inspected and replayed unchanged; where it came from and why it was set aside ride in
`dlq.*` headers (as Kafka Connect's dead-letter context headers do), readable by any
Kafka tool: `dlq.reason`, `dlq.attempts`, `dlq.consumer`, `dlq.source.topic`,
`dlq.source.partition`, `dlq.source.offset`, `dlq.failed_at`.
"""

from __future__ import annotations

from pipeline.db.models import utcnow
from pipeline.messaging.consumer import RejectedRecord, run_within
from pipeline.messaging.relay import ensure_topics, make_producer


def dead_letter_headers(letter: RejectedRecord, consumer: str) -> list[tuple[str, bytes]]:
    """The record's own headers, then the dead-letter context."""
    context = {
        "dlq.reason": letter.reason,
        "dlq.attempts": str(letter.attempts),
        "dlq.consumer": consumer,
        "dlq.source.topic": letter.topic,
        "dlq.source.partition": str(letter.partition),
        "dlq.source.offset": str(letter.offset),
        "dlq.failed_at": utcnow().isoformat(),
    }
    own = [(name, value) for name, value in letter.headers if not name.startswith("dlq.")]
    return own + [(name, value.encode()) for name, value in context.items()]


def publish_dead_letters(
    bootstrap: str, topic: str, letters: list[RejectedRecord], consumer: str, timeout_s: float = 10.0
) -> None:
    """Send `letters` to the dead-letter `topic` (created if missing) and wait for every
    acknowledgement; raises KafkaError or KafkaReadTimeout (within about `timeout_s`) if
    any is not acknowledged, so the caller keeps the records until they are."""
    if letters:
        # Each step gets half the budget; run_within bounds the whole.
        run_within(timeout_s, lambda: _publish(bootstrap, topic, letters, consumer, timeout_s / 2))


def _publish(bootstrap: str, topic: str, letters: list[RejectedRecord], consumer: str, timeout_s: float) -> None:
    ensure_topics(bootstrap, [topic], timeout_ms=int(timeout_s * 1000))
    producer = make_producer(bootstrap, send_timeout=timeout_s)
    try:
        futures = [
            producer.send(topic, key=letter.key, value=letter.value, headers=dead_letter_headers(letter, consumer))
            for letter in letters
        ]
        for future in futures:
            future.get(timeout=timeout_s)
    finally:
        producer.close(timeout=timeout_s)
