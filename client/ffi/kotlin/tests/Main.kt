// The Kotlin tests of the bindings, against the local stack (scripts/kotlin-test.sh runs
// them). The sync rules themselves are tested in Rust (client/tests); these check that the
// engine, driven from Kotlin, does what the CLI does, and the glue: suspend calls, the
// app's TokenStore and StatusObserver, errors as exceptions, close().
package app.steelnotes.tests

import app.steelnotes.example.FileTokenStore
import app.steelnotes.example.NotesSync
import app.steelnotes.example.describe
import app.steelnotes.sync.EngineException
import app.steelnotes.sync.EngineStatus
import app.steelnotes.sync.IdentityProvider
import app.steelnotes.sync.PushEnvironment
import java.io.File
import kotlin.system.exitProcess

fun main() {
    val t = Runner()

    t.test("two engines on two folders converge") {
        val user = uniqueUser("converge")
        Device(user, "Pixel").use { a ->
            Device(user, "Tablet").use { b ->
                a.vault.write("thoughts/Idea.md", "from a\n")
                b.vault.write("sources/Paper.md", "from b\n")
                expect(a.engine.syncNow().pushed == listOf("thoughts/Idea.md")) { "a pushed its note" }
                val rb = b.engine.syncNow()
                expect(rb.pulled == listOf("thoughts/Idea.md") && rb.pushed == listOf("sources/Paper.md")) { "b: $rb" }
                a.engine.syncNow()
                expect(a.vault.notes() == b.vault.notes() && a.vault.notes().size == 2) {
                    "trees differ: ${a.vault.notes()} vs ${b.vault.notes()}"
                }
            }
        }
    }

    t.test("an edit on one reaches the other through onPushNotificationReceived") {
        val user = uniqueUser("push")
        Device(user, "Pixel").use { a ->
            Device(user, "Mac").use { b ->
                a.vault.write("thoughts/Idea.md", "v1\n")
                a.engine.syncNow()
                b.engine.syncNow()
                a.vault.write("thoughts/Idea.md", "v2\n")
                a.engine.syncNow()
                val report = b.engine.onPushNotificationReceived(listOf("thoughts/Idea.md"))
                expect(report.pulled == listOf("thoughts/Idea.md")) { "pulled: $report" }
                expect(b.vault.read("thoughts/Idea.md") == "v2\n") { "b has ${b.vault.read("thoughts/Idea.md")}" }
            }
        }
    }

    t.test("conflicting edits end as a merge or a conflict copy, as the CLI does") {
        val user = uniqueUser("conflict")
        Device(user, "Pixel").use { a ->
            Device(user, "Mac").use { b ->
                a.vault.write("thoughts/Merge.md", "one\ntwo\nthree\n")
                a.vault.write("thoughts/Clash.md", "same line\n")
                a.engine.syncNow()
                b.engine.syncNow()
                // Different lines: merged. The same line: a's wins at the path, b's is a copy.
                a.vault.write("thoughts/Merge.md", "ONE\ntwo\nthree\n")
                b.vault.write("thoughts/Merge.md", "one\ntwo\nTHREE\n")
                a.vault.write("thoughts/Clash.md", "a's line\n")
                b.vault.write("thoughts/Clash.md", "b's line\n")
                a.engine.syncNow()
                val r = b.engine.syncNow()
                expect(r.merged == listOf("thoughts/Merge.md")) { "merged: $r" }
                expect(b.vault.read("thoughts/Merge.md") == "ONE\ntwo\nTHREE\n") { "merge: ${b.vault.read("thoughts/Merge.md")}" }
                expect(r.conflictCopies.size == 1 && r.conflictCopies[0].path == "thoughts/Clash.md") { "copies: $r" }
                val copy = r.conflictCopies[0].copy
                expect(copy.startsWith("thoughts/Clash (conflict Mac ")) { "copy name $copy" }
                expect(b.vault.read("thoughts/Clash.md") == "a's line\n" && b.vault.read(copy) == "b's line\n") { "clash contents" }
                val pending = b.engine.pendingConflicts()
                expect(pending.map { it.copy } == listOf(copy)) { "pending: $pending" }
                File(b.vault, copy).delete()
                expect(b.engine.pendingConflicts().isEmpty()) { "a deleted copy is no longer pending" }
                a.engine.syncNow()
                expect(a.vault.read(copy) == "b's line\n") { "the copy reached a" }
            }
        }
    }

    t.test("a wiped folder is held, then restored through the engine") {
        val user = uniqueUser("wipe")
        Device(user, "Pixel").use { a ->
            Device(user, "Mac").use { b ->
                for (i in 1..3) a.vault.write("thoughts/n$i.md", "note $i\n")
                a.engine.syncNow()
                b.engine.syncNow()
                File(a.vault, "thoughts").deleteRecursively()
                val held = a.engine.syncNow()
                expect(held.heldDeletes.sorted() == listOf("thoughts/n1.md", "thoughts/n2.md", "thoughts/n3.md")) { "held: $held" }
                expect(held.deletedOnServer.isEmpty()) { "nothing deleted on the server" }
                expect(b.engine.syncNow().deletedHere.isEmpty() && b.vault.notes().size == 3) { "b keeps its notes" }
                // Still held on a later sync, until the person answers.
                expect(a.engine.syncNow().heldDeletes.size == 3) { "still held" }
                val restored = a.engine.restoreMissing()
                expect(restored.pulled.size == 3 && a.vault.notes() == b.vault.notes()) { "restored: $restored" }
                expect(a.engine.syncNow().heldDeletes.isEmpty()) { "the hold is over" }
            }
        }
    }

    t.test("a held delete the person allows deletes everywhere") {
        val user = uniqueUser("allow")
        Device(user, "Pixel").use { a ->
            Device(user, "Mac").use { b ->
                for (i in 1..3) a.vault.write("thoughts/n$i.md", "note $i\n")
                a.engine.syncNow()
                b.engine.syncNow()
                File(a.vault, "thoughts").deleteRecursively()
                expect(a.engine.syncNow().heldDeletes.size == 3) { "held" }
                expect(a.engine.allowMassDelete().deletedOnServer.size == 3) { "deleted on the server" }
                expect(b.engine.syncNow().deletedHere.size == 3 && b.vault.notes().isEmpty()) { "deleted on b" }
            }
        }
    }

    t.test("history, deleted, restore and rewind") {
        val user = uniqueUser("history")
        Device(user, "Pixel").use { a ->
            a.vault.write("thoughts/Idea.md", "first\n")
            a.engine.syncNow()
            val before = java.time.Instant.now().toString()
            Thread.sleep(1100)
            a.vault.write("thoughts/Idea.md", "second\n")
            a.engine.syncNow()
            val versions = a.engine.history("thoughts/Idea.md")
            expect(versions.size == 2 && versions[0].version > versions[1].version) { "history: $versions" }
            expect(versions.all { it.deviceName == "Pixel" }) { "made by Pixel: $versions" }
            val done = a.engine.restore("thoughts/Idea.md", versions[1].version)
            expect(done.restoredFrom == versions[1].version && done.version > versions[0].version) { "restored: $done" }
            val r = a.engine.syncNow()
            expect(r.pulled == listOf("thoughts/Idea.md") && a.vault.read("thoughts/Idea.md") == "first\n") { "after restore: $r" }
            File(a.vault, "thoughts/Idea.md").delete()
            expect(a.engine.syncNow().deletedOnServer == listOf("thoughts/Idea.md")) { "deleted" }
            val gone = a.engine.deleted()
            expect(gone.map { it.path } == listOf("thoughts/Idea.md") && gone[0].restorableVersion != null) { "deleted: $gone" }
            a.engine.restore("thoughts/Idea.md", null)
            a.engine.syncNow()
            expect(a.vault.read("thoughts/Idea.md") == "first\n") { "a deleted note restored" }
            val rewound = a.engine.rewind(before, "thoughts", false)
            expect(rewound.restored == 0uL && rewound.unchanged == 1uL) { "rewind: $rewound" }
            val e = refused<EngineException.InvalidArgument>("a bad moment was accepted") {
                a.engine.rewind("yesterday", null, false)
            }
            expect(e.reason.contains("yesterday")) { e.reason }
        }
    }

    t.test("a Kotlin TokenStore: saved at sign-in, refreshed, and a failing store is an error") {
        val user = uniqueUser("tokens")
        Device(user, "Pixel").use { a ->
            val saved = a.store.session ?: throw AssertionError("nothing saved at sign-in")
            expect(a.store.saves.get() == 1 && saved.deviceName == "Pixel") { "saved: $saved" }
            // The same session, its access token expired: the engine refreshes it and saves
            // the new pair before using it.
            val expired = MemoryTokenStore(saved.copy(accessExpiresAt = 0))
            engine(newVault(), expired, "Pixel").use { e ->
                e.syncNow()
                val now = expired.session!!
                expect(expired.saves.get() == 1) { "one refresh saved, not ${expired.saves.get()}" }
                expect(now.refreshToken != saved.refreshToken && now.accessExpiresAt > System.currentTimeMillis() / 1000) { "refreshed" }
            }
            // (The refreshed pair: the first one was used up by that refresh.)
            val failing = MemoryTokenStore(expired.session!!.copy(accessExpiresAt = 0), failSaves = true)
            engine(newVault(), failing, "Pixel").use { e ->
                val x = refused<EngineException.TokenStoreFailed>("a refresh that could not be saved went on") {
                    e.syncNow()
                }
                expect(x.reason.contains("keychain locked")) { x.reason }
                expect(describe(x).contains("keychain")) { describe(x) }
            }
            // A store that fails at sign-in.
            engine(newVault(), MemoryTokenStore(failSaves = true)).use { e ->
                val x = refused<EngineException.TokenStoreFailed>("sign-in went on without saving") {
                    e.signIn(IdentityProvider.APPLE, mint(uniqueUser("tokens-fail")))
                }
                expect(x.reason == "keychain locked") { x.reason }
            }
            // A store that fails to load: the engine does not open.
            val broken = object : app.steelnotes.sync.TokenStore {
                override fun load(): app.steelnotes.sync.StoredSession? = throw IllegalStateException("keystore gone")
                override fun save(session: app.steelnotes.sync.StoredSession) {}
                override fun clear() {}
            }
            val x = refused<EngineException.TokenStoreFailed>("opened on a broken store") {
                engine(newVault(), broken).close()
            }
            expect(x.reason.contains("keystore gone")) { x.reason }
        }
    }

    t.test("the status observer sees SYNCING then IDLE, and OFFLINE when the API is down") {
        val user = uniqueUser("status")
        Device(user, "Pixel").use { a ->
            val rec = Recorder()
            a.engine.observeStatus(rec).use {
                a.vault.write("thoughts/Idea.md", "x\n")
                a.engine.syncNow()
                val seen = rec.seen.toList()
                expect(seen.first() == EngineStatus.Idle && seen.last() == EngineStatus.Idle) { "seen: $seen" }
                val uploading = seen.filterIsInstance<EngineStatus.Syncing>()
                expect(uploading.isNotEmpty() && uploading.any { it.progress.phase == app.steelnotes.sync.SyncPhase.UPLOADING }) { "syncing: $seen" }
            }
            // Nothing listens on port 9: the API is down.
            engine(newVault(), MemoryTokenStore(a.store.session), "Pixel", "http://127.0.0.1:9").use { e ->
                val down = Recorder()
                e.observeStatus(down).use {
                    val x = refused<EngineException.Offline>("synced without a server") {
                        e.syncNow()
                    }
                    expect(describe(x).startsWith("Offline")) { describe(x) }
                    val seen = down.seen.toList()
                    expect(seen.any { it is EngineStatus.Syncing } && seen.last() == EngineStatus.Offline) { "seen: $seen" }
                    expect(e.status() == EngineStatus.Offline) { "status: ${e.status()}" }
                }
            }
        }
    }

    t.test("onLocalFileChanged syncs once, 2 s after the last change") {
        val user = uniqueUser("debounce")
        Device(user, "Pixel").use { a ->
            Device(user, "Mac").use { b ->
                val rec = Recorder()
                a.engine.observeStatus(rec).use {
                    a.vault.write("thoughts/Idea.md", "typed\n")
                    repeat(3) {
                        a.engine.onLocalFileChanged(File(a.vault, "thoughts/Idea.md").path)
                        Thread.sleep(300)
                    }
                    a.engine.onLocalFileChanged(".steel/sync.db")
                    Thread.sleep(1000)
                    expect(rec.seen.none { it is EngineStatus.Syncing }) { "synced within 2 s of a change: ${rec.seen}" }
                    eventually(20, "a synced after the debounce") { rec.seen.size > 1 && rec.seen.last() == EngineStatus.Idle }
                    val starts = rec.seen.count { it is EngineStatus.Syncing && it.progress.phase == app.steelnotes.sync.SyncPhase.SCANNING && it.progress.done == 0uL && it.progress.total == 0uL }
                    expect(starts == 1) { "one sync for the burst, not $starts: ${rec.seen}" }
                }
                b.engine.syncNow()
                expect(b.vault.read("thoughts/Idea.md") == "typed\n") { "reached b" }
            }
        }
    }

    t.test("account: push token, details, sign-out, delete") {
        val user = uniqueUser("account")
        Device(user, "Pixel").use { a ->
            val device = a.engine.registerPushToken("fcm-token_" + "x".repeat(40), PushEnvironment.PRODUCTION)
            expect(device.hasPushToken && device.platform == "android" && device.deviceName == "Pixel") { "device: $device" }
            a.vault.write("thoughts/Idea.md", "x\n")
            a.engine.syncNow()
            val details = a.engine.accountDetails()
            expect(details.fileCount == 1L && details.devices.single().current) { "account: $details" }
            a.engine.signOut()
            expect(a.store.session == null) { "the store was cleared" }
            val x = refused<EngineException.SignedOut>("synced after sign-out") {
                a.engine.syncNow()
            }
            expect(describe(x) == "Please sign in again.") { describe(x) }
        }
        Device(uniqueUser("delete"), "Pixel").use { d ->
            d.vault.write("thoughts/Idea.md", "x\n")
            d.engine.syncNow()
            d.engine.deleteAccount()
            expect(d.store.session == null && d.vault.read("thoughts/Idea.md") == "x\n") { "signed out, notes kept" }
        }
    }

    t.test("the README example runs") {
        val vault = newVault()
        val tokenFile = File(newVault(), "session.properties")
        NotesSync(vault, apiUrl, FileTokenStore(tokenFile), "Pixel").use { sync ->
            sync.signIn(mint(uniqueUser("example")))
            vault.write("thoughts/Idea.md", "hello\n")
            expect(sync.sync().pushed == listOf("thoughts/Idea.md")) { "pushed" }
            expect(sync.status.value == EngineStatus.Idle) { "status ${sync.status.value}" }
            sync.registerPush("fcm-token_" + "y".repeat(40))
        }
        // Reopened from the saved session: still signed in.
        NotesSync(vault, apiUrl, FileTokenStore(tokenFile), "Pixel").use { sync ->
            expect(sync.sync().pushed.isEmpty()) { "nothing new" }
        }
    }

    t.test("100 open/close cycles leak no threads") {
        fun threads() = File("/proc/self/task").list()!!.size
        val vault = newVault()
        // Warm up: JNA and the first engine's one-time costs.
        engine(vault, MemoryTokenStore()).use { it.status() }
        val before = threads()
        repeat(100) {
            engine(vault, MemoryTokenStore()).use { e ->
                val outcome = runCatching { e.syncNow() }
                expect(outcome.exceptionOrNull() is EngineException.SignedOut) { "signed out: $outcome" }
            }
        }
        val after = threads()
        expect(after <= before + 2) { "threads: $before before, $after after 100 cycles" }
    }

    encryptionTests(t)

    if (!t.finish()) exitProcess(1)
}
