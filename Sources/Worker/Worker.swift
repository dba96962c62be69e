// Worker: the one module that joins the two sides: pulls shards over Wire and
// runs DomainTasks with Models on them.
import Wire
import DomainTasks
