import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Process {
    /// `waitUntilExit()` that cannot hang on a lost SIGCHLD.
    ///
    /// Foundation learns of a child's exit from SIGCHLD. In a test process with many threads a
    /// SIGCHLD can go to a thread that does not block it, where its default action discards
    /// it; the signal is not queued, so a burst of exits can all be lost at once. Nobody reaps
    /// those children (they stay zombies) and `waitUntilExit()` waits until some later child
    /// exits — forever when every test thread is itself waiting for a child (a CI run hung so,
    /// with 17 zombie curls). Here the exit is awaited with `waitid(WNOWAIT)`, which sees it
    /// without reaping, then SIGCHLD is raised again until Foundation has noticed (it reaps
    /// and records the status, as usual).
    public func waitUntilExitReliably() {
        let pid = processIdentifier
        if pid > 0 {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            while isRunning {
                kill(getpid(), SIGCHLD)
                usleep(2_000)
            }
        }
        waitUntilExit()
    }
}
