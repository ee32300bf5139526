// `make bench` part 2: the no-change sync of the part's vault through the Kotlin binding, to
// set beside the CLI's in the same run. Usage (scripts/bench.sh builds and runs it):
//   NoChangeKt <vault> <api url> <identity token> <runs>
// Signs in as a new device of the vault's user, syncs once (the folder holds a copy of a synced
// vault's notes, so that sync uploads nothing), then times `runs` calls of `syncNow()` from
// Kotlin and prints one line per call: `sync <seconds> <notes known>`.
package app.steelnotes.bench

import app.steelnotes.sync.DeviceInfo
import app.steelnotes.sync.IdentityProvider
import app.steelnotes.sync.Platform
import app.steelnotes.sync.StoredSession
import app.steelnotes.sync.SyncEngine
import app.steelnotes.sync.TokenStore
import kotlinx.coroutines.runBlocking

private class HeldTokens : TokenStore {
    @Volatile private var session: StoredSession? = null
    override fun load(): StoredSession? = session
    override fun save(session: StoredSession) {
        this.session = session
    }
    override fun clear() {
        session = null
    }
}

fun main(args: Array<String>) {
    require(args.size == 4) { "usage: NoChangeKt <vault> <api url> <identity token> <runs>" }
    val (vault, api, token, runsText) = args
    val runs = runsText.toInt()
    SyncEngine(vault, api, DeviceInfo("bench-kotlin", Platform.ANDROID), HeldTokens()).use { engine ->
        runBlocking {
            engine.signIn(IdentityProvider.APPLE, token)
            // The first sync of this device reads every note once and finds each on the server.
            val first = engine.syncNow()
            check(first.pushed.isEmpty()) { "the copied vault was not in sync: $first" }
            repeat(runs) {
                val started = System.nanoTime()
                val report = engine.syncNow()
                val secs = (System.nanoTime() - started) / 1e9
                check(report.pushed.isEmpty() && report.pulled.isEmpty()) { "not a no-change sync: $report" }
                println("sync %.6f %d".format(java.util.Locale.ROOT, secs, report.knownNotes.toLong()))
            }
        }
    }
}
