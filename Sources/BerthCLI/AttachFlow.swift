import BerthAPI
import BerthClient
import Synchronization

/// The part of `run` and `start -a` after attaching (docker's `runContainer` select): the
/// stream runs while the container's exit status is awaited; whichever ends first decides.
enum AttachFlow {
    /// A wait registered before the start (or its failure), as docker's `waitExitOrRemoved`.
    static func beginWait(client: BerthClient, id: String, autoRemove: Bool) async -> Result<BerthClient.PendingWait, any Error> {
        do {
            return .success(try await client.beginWait(id, condition: autoRemove ? "removed" : "next-exit"))
        } catch {
            return .failure(error)
        }
    }

    /// The exit status; 125 (with the error on stderr) when waiting failed.
    static func status(_ pending: Result<BerthClient.PendingWait, any Error>) async -> Int32 {
        do {
            let r = try await pending.get().result()
            if let m = r.Error?.Message, !m.isEmpty {
                Output.err("Error waiting for container: \(m)")
                return 125
            }
            return Int32(truncatingIfNeeded: r.StatusCode)
        } catch {
            Output.err("error waiting for container: \(error)")
            return 125
        }
    }

    /// How a session ended, against the container's status.
    enum Outcome: Sendable {
        case streamEnded(StreamSession.End)
        case streamFailed(any Error)
        case exited(Int32)
    }

    /// Waits for the running session to end, then returns the exit status (nil when
    /// detached). If the container's status arrives first (its output is held open by another
    /// process), the stream is closed and that status is returned.
    static func finish(_ sessionTask: Task<StreamSession.End, any Error>, stream: AttachedStream,
                       status statusTask: Task<Int32, Never>) async throws -> Int32? {
        let first = await firstOf(
            { () async -> Outcome in
                do { return .streamEnded(try await sessionTask.value) } catch { return .streamFailed(error) }
            },
            { () async -> Outcome in .exited(await statusTask.value) })
        switch first {
        case .streamEnded(.detached):
            return nil
        case .streamEnded(.closed):
            return await statusTask.value
        case .streamFailed(let error):
            throw error
        case .exited(let code):
            await stream.close()
            _ = try? await sessionTask.value
            Terminal.restore()
            return code
        }
    }

    /// The result of whichever of `a` and `b` finishes first (the other keeps running).
    static func firstOf<T: Sendable>(_ a: @escaping @Sendable () async -> T, _ b: @escaping @Sendable () async -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            let once = ResumeOnce(c)
            for body in [a, b] {
                Task { once.resume(await body()) }
            }
        }
    }
}

/// A continuation resumed by the first caller only.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    init(_ c: CheckedContinuation<T, Never>) { continuation = Mutex(c) }

    func resume(_ value: T) {
        continuation.withLock { pending in
            pending?.resume(returning: value)
            pending = nil
        }
    }
}
