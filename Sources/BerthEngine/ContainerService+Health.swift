#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem
import Synchronization

extension ContainerService {
    /// The effective healthcheck (Docker's defaults: 30 s interval and timeout, 3 retries, no
    /// start period), or nil without one or with `NONE`.
    static func healthcheck(_ c: Container) -> (test: [String], interval: Double, timeout: Double, startPeriod: Double,
                                                startInterval: Double, retries: Int)? {
        guard let h = c.config.Healthcheck, let test = h.Test, let kind = test.first, kind != "NONE" else { return nil }
        let cmd: [String]
        switch kind {
        case "CMD": cmd = Array(test.dropFirst())
        case "CMD-SHELL": cmd = ["/bin/sh", "-c", test.dropFirst().joined(separator: " ")]
        default: return nil
        }
        guard !cmd.isEmpty else { return nil }
        func seconds(_ ns: Int64?, _ d: Double) -> Double { (ns ?? 0) > 0 ? Double(ns!) / 1e9 : d }
        return (cmd, seconds(h.Interval, 30), seconds(h.Timeout, 30), seconds(h.StartPeriod, 0),
                seconds(h.StartInterval, 5), (h.Retries ?? 0) > 0 ? h.Retries! : 3)
    }

    /// Starts probing a container that just started (or was re-adopted): one task per run,
    /// which ends when the container stops or starts again.
    func startHealthMonitor(_ id: String) {
        guard let c = try? get(id), let hc = Self.healthcheck(c) else { return }
        let run = c.state.startedAt
        // A new run starts over as `starting` (a re-adopted one keeps its state).
        _ = update(id) { e in if e.container.state.health == nil { e.container.state.health = HealthState() } }
        Task { [self] in
            let begin = WallClock.now()
            while true {
                let elapsed = Double(WallClock.now().seconds - begin.seconds)
                let inStart = elapsed < hc.startPeriod
                let wait = inStart && hc.startInterval < hc.interval ? hc.startInterval : hc.interval
                try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                guard let now = try? get(id), now.state.status == .running || now.state.status == .paused,
                      now.state.startedAt == run else { return }
                if now.state.status == .paused { continue }
                let probe = await self.probe(id, hc.test, timeout: hc.timeout)
                let stillInStart = Double(WallClock.now().seconds - begin.seconds) < hc.startPeriod
                var changed: (Container, String)?
                _ = update(id) { e in
                    guard e.container.state.startedAt == run, e.container.state.isRunning else { return }
                    var h = e.container.state.health ?? HealthState()
                    let before = h.status
                    h.log.append(probe)
                    if h.log.count > 5 { h.log.removeFirst(h.log.count - 5) }
                    if probe.exitCode == 0 {
                        h.status = "healthy"
                        h.failingStreak = 0
                    } else if !(stillInStart && h.status == "starting") {
                        h.failingStreak += 1
                        if h.failingStreak >= hc.retries { h.status = "unhealthy" }
                    }
                    e.container.state.health = h
                    if h.status != before { changed = (e.container, h.status) }
                }
                if let (c, status) = changed { publish(c, "health_status: " + status) }
            }
        }
    }

    /// Runs one probe in the container: exit code and the first 4 KiB of output, or -1 and
    /// Docker's message when it outlives `timeout`.
    func probe(_ id: String, _ cmd: [String], timeout: Double) async -> HealthState.Probe {
        let start = WallClock.now().rfc3339Nano
        let execID: String
        do {
            execID = try execCreate(id, settings: ExecSettings(cmd: cmd, attachStdin: false))
        } catch {
            return .init(start: start, end: WallClock.now().rfc3339Nano, exitCode: -1, output: "\((error as? BerthError)?.message ?? "\(error)")")
        }
        defer { forgetExec(execID) }
        let output = OutputBox()
        let killer = Task { [self] in
            try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            output.timedOut()
            if let pid = try? execInspect(execID).pid, pid > 0 { _ = Glibc.kill(pid, SIGKILL) }
        }
        do {
            try await execStart(execID, detach: false) { conn in
                guard let conn else { return }
                while let (_, bytes) = try await conn.read() { output.append(bytes) }
            }
        } catch {
            output.append(Array("\((error as? BerthError)?.message ?? "\(error)")".utf8))
        }
        killer.cancel()
        let end = WallClock.now().rfc3339Nano
        if output.didTimeOut {
            return .init(start: start, end: end, exitCode: -1, output: "Health check exceeded timeout (\(goDuration(timeout)))")
        }
        let code = (try? execInspect(execID).exitCode) ?? nil
        return .init(start: start, end: end, exitCode: code ?? -1, output: output.text)
    }

    /// Drops an internal exec instance (health probes are not listed, as in Docker).
    func forgetExec(_ id: String) {
        table.withLock { t in
            guard let e = t.execs.removeValue(forKey: id) else { return }
            t.entries[e.containerID]?.execIDs.removeAll { $0 == id }
        }
    }
}

/// A probe's output, capped at 4 KiB as Docker keeps it.
final class OutputBox: Sendable {
    private let state = Mutex<(bytes: [UInt8], timeout: Bool)>(([], false))
    func append(_ b: [UInt8]) { state.withLock { s in if s.bytes.count < 4096 { s.bytes += b.prefix(4096 - s.bytes.count) } } }
    func timedOut() { state.withLock { $0.timeout = true } }
    var didTimeOut: Bool { state.withLock { $0.timeout } }
    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }
}

/// Go's `time.Duration` text for whole and fractional seconds (`30s`, `1.5s`, `500ms`).
func goDuration(_ seconds: Double) -> String {
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    if seconds == seconds.rounded() { return "\(Int(seconds))s" }
    return "\(seconds)s"
}
