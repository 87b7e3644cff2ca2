/// The tar format (headers, the writer) lives in BerthTar so the CLI can write build contexts
/// without linking this target; everything that imports BerthArchive sees it as before.
@_exported import BerthTar
