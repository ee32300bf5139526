// The README's example ("Using the sync engine from the apps"): how an app's shared Kotlin
// module drives the engine. scripts/kotlin-test.sh compiles it with -Werror and its tests run
// it against the local stack, so it cannot drift from the bindings.
package app.steelnotes.example

import app.steelnotes.sync.AppException
import app.steelnotes.sync.DeviceInfo
import app.steelnotes.sync.EngineException
import app.steelnotes.sync.EngineStatus
import app.steelnotes.sync.IdentityProvider
import app.steelnotes.sync.ObservationHandle
import app.steelnotes.sync.Platform
import app.steelnotes.sync.PushEnvironment
import app.steelnotes.sync.StatusObserver
import app.steelnotes.sync.StoredSession
import app.steelnotes.sync.SyncEngine
import app.steelnotes.sync.SyncReport
import app.steelnotes.sync.TokenStore
import java.io.File
import java.util.Properties
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/**
 * The app keeps the session; the engine never writes tokens to disk itself. This one is a
 * file for the example's sake: an Android app keeps it in EncryptedSharedPreferences (a
 * Keystore key), the Apple apps in the Keychain. Anything it throws reaches the caller as
 * EngineException.TokenStoreFailed.
 */
class FileTokenStore(private val file: File) : TokenStore {
    override fun load(): StoredSession? {
        if (!file.exists()) return null
        val p = Properties()
        try {
            file.inputStream().use { p.load(it) }
        } catch (e: java.io.IOException) {
            throw AppException.Failed("cannot read ${file.name}: ${e.message}")
        }
        return StoredSession(
            apiUrl = p.getProperty("apiUrl"),
            userId = p.getProperty("userId"),
            deviceId = p.getProperty("deviceId"),
            deviceName = p.getProperty("deviceName"),
            accessToken = p.getProperty("accessToken"),
            refreshToken = p.getProperty("refreshToken"),
            accessExpiresAt = p.getProperty("accessExpiresAt").toLong(),
        )
    }

    override fun save(session: StoredSession) {
        val p = Properties()
        p.setProperty("apiUrl", session.apiUrl)
        p.setProperty("userId", session.userId)
        session.deviceId?.let { p.setProperty("deviceId", it) }
        p.setProperty("deviceName", session.deviceName)
        p.setProperty("accessToken", session.accessToken)
        p.setProperty("refreshToken", session.refreshToken)
        p.setProperty("accessExpiresAt", session.accessExpiresAt.toString())
        val tmp = File(file.path + ".tmp")
        tmp.outputStream().use { p.store(it, null) }
        if (!tmp.renameTo(file)) throw AppException.Failed("cannot replace ${file.name}")
    }

    override fun clear() {
        file.delete()
    }
}

/** What the app shows for a failure: one `when` over the engine's error cases. */
fun describe(e: EngineException): String = when (e) {
    is EngineException.Offline -> "Offline: your notes sync when you are back online."
    is EngineException.SignedOut -> "Please sign in again."
    is EngineException.MassDeleteHeld -> "Many notes are missing here: keep them or delete them everywhere?"
    is EngineException.QuotaExceeded -> "Your storage is full."
    is EngineException.RateLimited -> "Busy: retrying in ${e.retryAfterSecs ?: 30uL} s."
    is EngineException.ServerUnavailable -> "The service is unavailable; retrying later."
    is EngineException.TokenStoreFailed -> "Could not use the keychain: ${e.reason}"
    else -> "Sync failed: ${e.message}"
}

/**
 * The shared module's sync service: one per vault, closed when the vault is closed.
 * Status arrives on an engine thread; a StateFlow hands it to the UI.
 */
class NotesSync(
    vaultDir: File,
    apiUrl: String,
    tokens: TokenStore,
    deviceName: String,
    /** Many notes are missing here: ask the person (see restoreMissing / allowMassDelete). */
    private val onMassDeleteHeld: (List<String>) -> Unit = {},
) : AutoCloseable {
    private val engine = SyncEngine(vaultDir.path, apiUrl, DeviceInfo(deviceName, Platform.ANDROID), tokens)
    private val statusFlow = MutableStateFlow<EngineStatus>(EngineStatus.Idle)
    val status: StateFlow<EngineStatus> = statusFlow
    private val observation: ObservationHandle = engine.observeStatus(object : StatusObserver {
        override fun onStatus(status: EngineStatus) {
            statusFlow.value = status
        }
    })

    suspend fun signIn(appleIdentityToken: String) {
        engine.signIn(IdentityProvider.APPLE, appleIdentityToken)
    }

    /** Pull to refresh, app start, coming to the foreground. */
    suspend fun sync(): SyncReport {
        val report = engine.syncNow()
        if (report.heldDeletes.isNotEmpty()) onMassDeleteHeld(report.heldDeletes)
        return report
    }

    /** From the app's file observer (FileObserver, NSFilePresenter): debounced 2 s. */
    fun fileChanged(path: String) = engine.onLocalFileChanged(path)

    /** From FCM / APNs: syncs now; call from the push handler's coroutine. */
    suspend fun pushReceived(changedPaths: List<String>): SyncReport =
        engine.onPushNotificationReceived(changedPaths)

    suspend fun registerPush(fcmToken: String) {
        engine.registerPushToken(fcmToken, PushEnvironment.PRODUCTION)
    }

    /** The person's answers to a held mass delete. */
    suspend fun restoreMissing(): SyncReport = engine.restoreMissing()

    suspend fun allowMassDelete(): SyncReport = engine.allowMassDelete()

    override fun close() {
        observation.close()
        engine.close()
    }
}
