import ArgumentParser
import Foundation
import Store

/// The exit codes of antemactl's runtime failures (sysexits(3)); wrong usage stays 64 with the
/// usage text (swift-argument-parser), "some inputs failed" is 2, `status` with no daemon 3.
enum Exit: Int32 {
    /// The input was read but is wrong (a query SQLite refuses, a malformed file).
    case dataError = 65
    /// An input does not exist (a file, the database, a sample, an image).
    case noInput = 66
    /// A service is unavailable (the database is busy or broken).
    case unavailable = 69
    /// An output cannot be created.
    case cannotCreate = 73
    /// Permission denied.
    case noPermission = 77
    /// The configuration is wrong.
    case configuration = 78
}

/// A runtime failure: printed as `antemactl: message` (no usage text), exits with its code.
struct Failure: Error, CustomStringConvertible {
    let exit: Exit
    let message: String
    init(_ exit: Exit, _ message: String) { self.exit = exit; self.message = message }
    var description: String { message }
}

/// The exit code for a file-system error number.
func exitCode(errno e: Int32) -> Exit {
    switch e {
    case EACCES, EPERM: .noPermission
    case ENOENT, ENOTDIR: .noInput
    default: .cannotCreate
    }
}

extension StoreError {
    var exit: Exit {
        switch self {
        case .notFound: .noInput
        case .permissionDenied: .noPermission
        case .refused: .dataError
        }
    }
}
