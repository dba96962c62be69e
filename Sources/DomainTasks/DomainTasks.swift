// DomainTasks: what a job does with a document. A task turns one document into
// one result record; it sees models through small protocols.
