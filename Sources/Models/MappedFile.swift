// MappedFile: a read-only memory map of a whole file (mmap, PROT_READ,
// MAP_PRIVATE), the base of every weight store. Unmapped on deinit.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be mapped.
public struct MappedFileError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case missing, notAFile, unreadable, empty, mapFailed
    }

    public let kind: Kind
    public let path: String
    public let detail: String

    public var description: String {
        switch kind {
        case .missing: return "\(path): no such file; check the path, or re-run ops/setup for the models"
        case .notAFile: return "\(path): not a regular file; pass the path of the file itself"
        case .unreadable: return "\(path): cannot be opened for reading (\(detail)); check its permissions"
        case .empty: return "\(path): the file is empty; it is truncated or corrupt, re-run ops/setup"
        case .mapFailed: return "\(path): mmap failed (\(detail)); check free address space and memory limits"
        }
    }
}

/// A read-only memory-mapped file (mmap, PROT_READ, MAP_PRIVATE); unmapped on deinit.
public final class MappedFile: @unchecked Sendable {
    public let url: URL
    private let base: UnsafeRawPointer
    private let length: Int

    /// The file's size in bytes (always > 0).
    public var count: Int { length }

    /// The mapped bytes; valid while this object lives.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let err = errno
            let message = String(cString: strerror(err))
            throw MappedFileError(kind: err == ENOENT ? .missing : .unreadable, path: path, detail: message)
        }
        defer { close(fd) }

        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw MappedFileError(kind: .unreadable, path: path, detail: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw MappedFileError(kind: .notAFile, path: path, detail: "")
        }
        guard st.st_size > 0 else {
            throw MappedFileError(kind: .empty, path: path, detail: "")
        }
        guard let size = Int(exactly: st.st_size) else {
            throw MappedFileError(kind: .mapFailed, path: path, detail: "size \(st.st_size) does not fit in memory")
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw MappedFileError(kind: .mapFailed, path: path, detail: String(cString: strerror(errno)))
        }
        self.base = UnsafeRawPointer(pointer)
        self.length = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }
}
