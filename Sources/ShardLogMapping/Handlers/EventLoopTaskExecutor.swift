import NIOCore

/// A NIO event loop as a task executor, so that a lane whose handler answers on that loop runs there too.
///
/// A Runtime API slot's connection lives on one event loop; the lane that invokes the slot's runtime awaits the
/// `/response` that arrives there, and hands the next event to the `/next` that arrives there. With the lane's task
/// preferring this executor (`addTask(executorPreference:)`), resuming the lane after a response is a job queued on
/// the loop that is already running (no thread woken), and the next event is written without leaving it: the
/// thread hops between the loop and the cooperative pool were most of the mapping's CPU per invocation in
/// `bench runtime-api`. Jobs enqueued from other threads wake the loop as `EventLoop.execute` does. Thread-safe.
final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop that runs the jobs.
    let eventLoop: any EventLoop

    /// An executor running its jobs on `eventLoop`.
    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `job` on the loop.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { [self] in
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
