// The guest agent of `berth run --isolation vm`: PID 1 inside the container's VM.
// All logic is in BerthVM's GuestAgent; this binary is linked fully static (see Package.swift).
import BerthVM

GuestAgent.main()
