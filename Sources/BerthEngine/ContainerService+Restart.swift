#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

extension ContainerService {
    /// Whether a container that just exited is restarted by its policy (Docker's rules):
    /// `always` and `unless-stopped` unless the user stopped it, `on-failure[:N]` on a non-zero
    /// exit while fewer than N restarts happened (N = 0: no limit). AutoRemove never restarts.
    static func restartWanted(_ c: Container) -> Bool {
        guard !(c.hostConfig.AutoRemove ?? false), !c.state.stoppedByUser else { return false }
        switch c.hostConfig.RestartPolicy?.Name ?? "no" {
        case "always", "unless-stopped": return true
        case "on-failure":
            let max = c.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0
            return c.state.exitCode != 0 && (max <= 0 || c.restartCount < max)
        default: return false
        }
    }

    /// After an exit the policy wants restarted: the container shows `restarting`, waits its
    /// backoff (100 ms, doubling per restart up to 1 min; back to 100 ms after a run of 10 s
    /// or more) and starts again. A stop, kill or remove meanwhile cancels it.
    func scheduleRestart(_ id: String) {
        let delay: Int? = table.withLock { t in
            guard var e = t.entries[id], !e.container.state.isRunning, Self.restartWanted(e.container) else { return nil }
            let ranFor = Self.secondsBetween(e.container.state.startedAt, e.container.state.finishedAt)
            e.restartDelayMs = (e.restartDelayMs == 0 || ranFor >= 10) ? 100 : min(e.restartDelayMs * 2, 60_000)
            e.container.state.status = .restarting
            e.container.restartCount += 1
            t.entries[id] = e
            save(e.container)
            return e.restartDelayMs
        }
        guard let delay else { return }
        Task { [self] in
            try? await Task.sleep(nanoseconds: UInt64(delay) * 1_000_000)
            let go: Bool = table.withLock { t in
                guard let e = t.entries[id], e.container.state.status == .restarting, e.busy == nil,
                      !e.container.state.stoppedByUser else { return false }
                t.entries[id]!.container.state.status = .exited
                return true
            }
            guard go else { return }
            do {
                _ = try await start(id)
            } catch {
                logger.warning("restart by policy failed", metadata: ["id": "\(id)", "error": "\(error)"])
                scheduleRestart(id)
            }
        }
    }

    /// A container waiting to be restarted is stopped instead (stop, kill, remove): true if it
    /// was restarting.
    func cancelRestart(_ id: String) -> Bool {
        let (cancelled, waiters, container): (Bool, [Waiter], Container?) = table.withLock { t in
            guard let e = t.entries[id], e.container.state.status == .restarting else { return (false, [], nil) }
            t.entries[id]!.container.state.status = .exited
            t.entries[id]!.container.state.stoppedByUser = true
            let w = t.entries[id]!.waiters.filter { $0.condition != .removed }
            t.entries[id]!.waiters.removeAll { $0.condition != .removed }
            save(t.entries[id]!.container)
            return (true, w, t.entries[id]!.container)
        }
        if let container { for w in waiters { w.promise.fulfill(container.state.exitCode) } }
        return cancelled
    }

    /// At daemon start: containers whose policy restarts them after a daemon restart (`always`,
    /// and `unless-stopped` unless the user stopped them) and that are not running are started.
    func restartAfterDaemonStart() {
        let ids: [String] = table.withLock { t in
            var ids: [String] = []
            for (id, e) in t.entries {
                let c = e.container
                if c.state.status == .restarting {
                    t.entries[id]!.container.state.status = .exited
                }
                guard !c.state.isRunning || c.state.status == .restarting else { continue }
                guard c.state.startedAt != ContainerRunState.zeroTime else { continue }
                switch c.hostConfig.RestartPolicy?.Name ?? "no" {
                case "always": ids.append(id)
                case "unless-stopped" where !c.state.stoppedByUser: ids.append(id)
                case "on-failure" where c.state.status == .restarting: ids.append(id)
                default: break
                }
            }
            return ids
        }
        for id in ids {
            Task { [self] in
                do { _ = try await start(id) } catch {
                    logger.warning("restart after daemon start failed", metadata: ["id": "\(id)", "error": "\(error)"])
                }
            }
        }
    }

    static func secondsBetween(_ a: String, _ b: String) -> Double {
        guard let x = WallClock(rfc3339: a), let y = WallClock(rfc3339: b) else { return 0 }
        return Double(y.seconds - x.seconds) + Double(Int(y.nanoseconds) - Int(x.nanoseconds)) / 1e9
    }
}
