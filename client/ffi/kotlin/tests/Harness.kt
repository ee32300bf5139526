// What the Kotlin tests share: the local stack's API, identity tokens from the dev identity
// provider (the dev-token binary), vault folders, in-memory token stores, and a tiny runner
// that prints "N passed, N failed" (no JUnit launcher here: see TOOLS.md).
package app.steelnotes.tests

import app.steelnotes.sync.AppException
import app.steelnotes.sync.DeviceInfo
import app.steelnotes.sync.EngineStatus
import app.steelnotes.sync.IdentityProvider
import app.steelnotes.sync.Platform
import app.steelnotes.sync.StatusObserver
import app.steelnotes.sync.StoredSession
import app.steelnotes.sync.SyncEngine
import app.steelnotes.sync.TokenStore
import app.steelnotes.sync.VaultKeyStore
import java.io.File
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

val apiUrl: String = System.getenv("STEEL_API_URL") ?: error("STEEL_API_URL is not set (run through scripts/with-dev-stack.sh)")
private val devToken: String = System.getenv("DEV_TOKEN_BIN") ?: "target/debug/dev-token"

/** A user nobody else uses. */
fun uniqueUser(label: String): String = "kotlin-$label-${ProcessHandle.current().pid()}-${System.nanoTime()}"

/** An Apple-style identity token for `sub`, signed by the dev identity provider. */
fun mint(sub: String): String {
    val p = ProcessBuilder(devToken, "--sub", sub).redirectErrorStream(true).start()
    val out = p.inputStream.bufferedReader().readText().trim()
    check(p.waitFor() == 0) { "dev-token failed: $out" }
    return out
}

fun newVault(): File = Files.createTempDirectory("steel-kotlin-").toFile()

fun File.write(rel: String, text: String) {
    val f = File(this, rel)
    f.parentFile.mkdirs()
    f.writeText(text)
}

fun File.read(rel: String): String? = File(this, rel).takeIf { it.isFile }?.readText()

/** The vault's notes (the seed's folders): path -> text. */
fun File.notes(): Map<String, String> =
    listOf("sources", "thoughts", "questions", "syntheses").flatMap { folder ->
        File(this, folder).walkTopDown().filter { it.isFile && it.name.endsWith(".md") }
            .map { it.relativeTo(this).path to it.readText() }.toList()
    }.toMap()

/** The app's token store, in memory; counts saves; `failSaves` makes saves throw. */
class MemoryTokenStore(initial: StoredSession? = null, private val failSaves: Boolean = false) : TokenStore {
    @Volatile var session: StoredSession? = initial
    val saves = AtomicInteger()
    override fun load(): StoredSession? = session
    override fun save(session: StoredSession) {
        if (failSaves) throw AppException.Failed("keychain locked")
        saves.incrementAndGet()
        this.session = session
    }
    override fun clear() {
        session = null
    }
}

/** Records every status it hears. */
class Recorder : StatusObserver {
    val seen: MutableList<EngineStatus> = Collections.synchronizedList(mutableListOf())
    override fun onStatus(status: EngineStatus) {
        seen.add(status)
    }
}

fun engine(
    vault: File,
    store: TokenStore,
    name: String = "kotlin",
    url: String = apiUrl,
    keyStore: VaultKeyStore? = null,
): SyncEngine = SyncEngine(vault.path, url, DeviceInfo(name, Platform.ANDROID), store, keyStore)

/** A signed-in engine on a fresh folder, with its store. */
class Device(sub: String, name: String, keyStore: VaultKeyStore? = null) : AutoCloseable {
    val vault = newVault()
    val store = MemoryTokenStore()
    val engine = engine(vault, store, name, keyStore = keyStore)

    init {
        runBlocking { engine.signIn(IdentityProvider.APPLE, mint(sub)) }
    }

    override fun close() {
        engine.close()
        vault.deleteRecursively()
    }
}

/** Polls `check` for up to `seconds`. */
fun eventually(seconds: Int, what: String, check: () -> Boolean) {
    val deadline = System.nanoTime() + seconds * 1_000_000_000L
    while (System.nanoTime() < deadline) {
        if (check()) return
        Thread.sleep(100)
    }
    throw AssertionError("not within $seconds s: $what")
}

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

/** Runs [block], which must throw a [T]; returns it. `what` names what must not happen. */
inline fun <reified T : Throwable> refused(what: String, block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("$what: expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError(what)
}

class Runner {
    private var passed = 0
    private var failed = 0

    fun test(name: String, body: suspend () -> Unit) {
        val started = System.nanoTime()
        try {
            runBlocking { withTimeout(180_000) { body() } }
            passed++
            println("PASS $name (${(System.nanoTime() - started) / 1_000_000} ms)")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
            e.printStackTrace(System.out)
        }
    }

    /** The closing line CI reads; true when all passed. */
    fun finish(): Boolean {
        println("kotlin: $passed passed, $failed failed")
        return failed == 0
    }
}
