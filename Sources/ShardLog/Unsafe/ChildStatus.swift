#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether a child process has ended, asked without reaping it (`waitid` with `WNOWAIT`), so whoever owns the child
/// (swift-subprocess) still collects its status, and its process id (and process group id) cannot be reused before.
package enum ChildStatus {
    /// Whether our child `pid` has exited or been killed (it is a zombie not yet reaped). A process that is not our
    /// child, or was already reaped, counts as ended.
    /// - Parameter pid: The child's process id.
    /// - Returns: `true` once the child has ended.
    package static func hasEnded(_ pid: Int32) -> Bool {
        var info = siginfo_t()
        while true {
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                #if canImport(Glibc)
                    return info._sifields._sigchld.si_pid != 0
                #else
                    return info.si_pid != 0
                #endif
            }
            if errno != EINTR {
                return true
            }
        }
    }
}
