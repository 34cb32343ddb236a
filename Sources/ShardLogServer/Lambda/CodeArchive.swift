import Crypto
import Foundation
import ZIPFoundation

/// A function's deployment package (`Code.ZipFile`): checked and unzipped into the function's code directory.
///
/// Safety: every entry's path is checked before anything is written (an absolute path or a `..` component refuses
/// the whole archive), symbolic links must stay inside the directory, and the bytes actually written are counted
/// against Lambda's 250 MB (262,144,000 bytes) unzipped limit, whatever the archive's headers claim.
enum CodeArchive {
    /// Lambda's cap on a function's unzipped code.
    static let maximumUnzippedByteCount: UInt64 = 262_144_000

    /// `CodeSha256`: base64 of the SHA-256 of the zip.
    static func sha256(_ zip: [UInt8]) -> String {
        Data(SHA256.hash(data: zip)).base64EncodedString()
    }

    /// Unzips `zip` into `directory` (created; it must not exist yet).
    /// - Throws: `InvalidParameterValueException` for an archive that cannot be read, an unsafe entry path or
    ///   too many unzipped bytes; `ServiceException` when the directory cannot be written.
    static func extract(_ zip: [UInt8], into directory: String) throws(LambdaError) {
        let archive: Archive
        do {
            archive = try Archive(data: Data(zip), accessMode: .read)
        } catch {
            throw unreadable
        }
        let entries = Array(archive)
        guard !entries.isEmpty || zip.count >= 22 else { throw unreadable }
        var declared: UInt64 = 0
        for entry in entries {
            try checkPath(entry.path)
            declared &+= entry.uncompressedSize
        }
        guard declared <= maximumUnzippedByteCount else { throw tooLarge }
        let root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw LambdaError.service("cannot create \(directory): \(error)")
        }
        var written: UInt64 = 0
        for entry in entries {
            let target = root.appendingPathComponent(entry.path).standardizedFileURL
            guard target.path.hasPrefix(root.path + "/") || target.path == root.path else {
                throw unsafePath(entry.path)
            }
            do {
                switch entry.type {
                case .directory:
                    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                case .symlink:
                    _ = try archive.extract(entry, to: target, skipCRC32: false, allowUncontainedSymlinks: false)
                case .file:
                    try FileManager.default.createDirectory(
                        at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    guard FileManager.default.createFile(atPath: target.path, contents: nil) else {
                        throw LambdaError.service("cannot create \(target.path)")
                    }
                    let handle = try FileHandle(forWritingTo: target)
                    defer { try? handle.close() }
                    _ = try archive.extract(entry) { chunk in
                        written += UInt64(chunk.count)
                        guard written <= maximumUnzippedByteCount else { throw tooLarge }
                        try handle.write(contentsOf: chunk)
                    }
                    let permissions = (entry.fileAttributes[.posixPermissions] as? NSNumber)?.int16Value ?? 0o644
                    // Keep the executable bits (a `bootstrap`), always readable and writable by us.
                    try FileManager.default.setAttributes(
                        [.posixPermissions: NSNumber(value: (permissions & 0o755) | 0o600)], ofItemAtPath: target.path)
                }
            } catch let error as LambdaError {
                throw error
            } catch Archive.ArchiveError.uncontainedSymlink {
                throw LambdaError.invalidParameter(
                    "The zip file has a symbolic link '\(entry.path)' that points outside the function's directory")
            } catch {
                throw unreadable
            }
        }
    }

    private static func checkPath(_ path: String) throws(LambdaError) {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        if path.hasPrefix("/") || path.hasPrefix("\\") || components.contains("..") || path.contains("\\..")
            || path.utf8.contains(0)
        {
            throw unsafePath(path)
        }
    }

    private static func unsafePath(_ path: String) -> LambdaError {
        LambdaError.invalidParameter(
            "Could not unzip uploaded file: the entry '\(path)' has an absolute path or a '..' component; "
                + "nothing was written. Entries must be relative to the function's root")
    }

    private static let unreadable = LambdaError.invalidParameter(
        "Could not unzip uploaded file. Please check your file, then try to upload again.")

    private static let tooLarge = LambdaError.invalidParameter(
        "Unzipped size must be smaller than \(maximumUnzippedByteCount) bytes")
}
