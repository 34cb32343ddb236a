/// Waiting for records without polling: the stream's ``StreamDoorbell``.
extension Shard {
    /// The doorbell of this shard's stream.
    var doorbell: StreamDoorbell { StreamDoorbell.forShard(directory: directory) }
}

extension DataStream {
    /// The doorbell of this stream: rung by every append in any process, and by a reshard or deletion.
    package var doorbell: StreamDoorbell { StreamDoorbell.forStream(directory: directory) }
}

extension ShardIterator {
    /// The doorbell ticket of this iterator's shard: take it before ``hasMore()``, then pass it to
    /// ``waitForData(after:timeout:)`` when there was nothing, so a record published in between is not missed.
    package func doorbellTicket() -> StreamDoorbell.Ticket {
        shard.doorbell.ticket(shardIndex: shard.index)
    }

    /// Sleeps until this shard (or the stream) is rung after `ticket` was taken, or `timeout` passes (at most 2 ms
    /// where the doorbell does not work, so callers keep polling); returns at once when the task is cancelled.
    package func waitForData(after ticket: StreamDoorbell.Ticket, timeout: Duration) async {
        await shard.doorbell.wait(for: ticket, timeout: timeout)
    }
}
