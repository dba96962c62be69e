// SafeTensorsOutput: writes float32 safetensors as huggingface/safetensors does (u64 header length,
// JSON header with sorted keys padded with spaces to a multiple of 8, tensors back to back in name
// order), so the same tensors always give the same bytes.
import Foundation

public enum SafeTensorsOutput {
    /// The file's bytes for `tensors` (name, shape, float32 values).
    public static func data(_ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
                            metadata: [String: String]? = ["format": "pt"]) throws -> Data {
        var header: [String: Any] = [:]
        var body = Data()
        for t in tensors.sorted(by: { $0.name < $1.name }) {
            guard t.shape.reduce(1, *) == t.values.count else {
                throw ModelError.invalidInput("tensor '\(t.name)' has \(t.values.count) values for shape \(t.shape)")
            }
            let begin = body.count
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [begin, body.count]] as [String: Any]
        }
        if let metadata { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        return out
    }
}
