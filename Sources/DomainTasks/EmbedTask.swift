import Foundation
import Kernels
import Models

/// `embed`: one `{"id", "embedding"}` record per document (`"truncated": true` when the text was cut to the model's length).
public final class EmbedTask: DomainTask {
    public let encoder: SentenceEncoder
    public let adapter: LoRAAdapter?
    let state: BertRunState
    let batch: Int

    public init(encoder: SentenceEncoder, adapter: LoRAAdapter?, pool: ThreadPool, batch: Int = 32) {
        self.encoder = encoder
        self.adapter = adapter
        self.state = encoder.makeState(pool: pool)
        self.batch = batch
    }

    public func run(_ documents: [Document]) -> [TaskRecord] {
        let tokenized = documents.map { encoder.tokenize($0.text) }
        var records = [TaskRecord](repeating: TaskRecord(json: ""), count: documents.count)
        encoder.embed(tokenized.map(\.ids), batch: batch, state: state, adapter: adapter) { i, vector in
            let cut = tokenized[i].truncated ? ",\"truncated\":true" : ""
            records[i] = TaskRecord(json: "{\"id\":\(documents[i].id.json),\"embedding\":\(JSONText.floats(vector))\(cut)}",
                                    tokens: tokenized[i].ids.count)
        }
        return records
    }
}
