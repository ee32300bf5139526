// End-to-end encryption driven from Kotlin: set-up with a recovery code shown first, a
// locked device refused until it unlocks, wrong secrets, passphrase change, lock, the app's
// VaultKeyStore (and a failing one); and the crypto crate's test vectors checked through
// the bindings, so the engine an app ships reads the formats exactly as the reference does.
package app.steelnotes.tests

import app.steelnotes.sync.AppException
import app.steelnotes.sync.EngineException
import app.steelnotes.sync.IdentityProvider
import app.steelnotes.sync.VaultKeyStore
import app.steelnotes.sync.conformanceOpenBlob
import app.steelnotes.sync.conformanceOpenManifest
import app.steelnotes.sync.conformanceOpenPath
import app.steelnotes.sync.conformanceOpenSlot
import app.steelnotes.sync.conformancePathKey
import app.steelnotes.sync.conformanceRecoveryCode
import app.steelnotes.sync.newRecoveryCode
import java.io.File
import java.security.MessageDigest

/** The app's key store, in memory; `failSaves` makes saves throw. */
class MemoryKeyStore(private val failSaves: Boolean = false) : VaultKeyStore {
    @Volatile var key: ByteArray? = null
    override fun load(): ByteArray? = key
    override fun save(key: ByteArray) {
        if (failSaves) throw AppException.Failed("keystore unavailable")
        this.key = key
    }
    override fun clear() {
        key = null
    }
}

private const val PASSPHRASE = "correct horse battery staple"

fun encryptionTests(t: Runner) {
    t.test("an encrypted account: set up, a locked device is refused, unlocks, converges") {
        val user = uniqueUser("e2ee")
        val keysA = MemoryKeyStore()
        val keysB = MemoryKeyStore()
        Device(user, "Pixel", keysA).use { a ->
            Device(user, "Mac", keysB).use { b ->
                expect(!a.engine.encryptionState().encrypted) { "a new account is plaintext" }
                refused<EngineException.InvalidArgument>("a short passphrase") {
                    a.engine.setUpEncryption("short", newRecoveryCode())
                }
                val code = newRecoveryCode()
                a.engine.setUpEncryption(PASSPHRASE, code)
                val state = a.engine.encryptionState()
                expect(state.encrypted && state.unlocked) { "after set-up: $state" }
                expect(keysA.key != null) { "the key went to the app's store" }

                a.vault.write("thoughts/Secret plan.md", "the canary sings at dawn\n")
                expect(a.engine.syncNow().pushed == listOf("thoughts/Secret plan.md")) { "a pushed" }

                expect(!b.engine.encryptionState().unlocked) { "b holds no key yet" }
                refused<EngineException.Locked>("a locked device syncs") { b.engine.syncNow() }
                refused<EngineException.WrongSecret>("a wrong passphrase opens the vault") {
                    b.engine.unlock("not the passphrase at all")
                }
                refused<EngineException.InvalidArgument>("a mistyped recovery code is taken") {
                    b.engine.unlockWithRecoveryCode(code.reversed())
                }
                expect(keysB.key == null) { "nothing kept after wrong secrets" }
                // As typed by a person: lower case, spaces for dashes.
                b.engine.unlockWithRecoveryCode(code.lowercase().replace('-', ' '))
                expect(b.engine.syncNow().pulled == listOf("thoughts/Secret plan.md")) { "b pulled" }
                expect(b.vault.notes() == a.vault.notes()) { "trees differ: ${a.vault.notes()} vs ${b.vault.notes()}" }

                b.vault.write("thoughts/Secret plan.md", "the canary sings at dusk\n")
                b.engine.syncNow()
                a.engine.syncNow()
                expect(a.vault.read("thoughts/Secret plan.md") == "the canary sings at dusk\n") { "b's edit reached a" }

                val newPassphrase = "a much longer passphrase now"
                a.engine.changePassphrase(PASSPHRASE, newPassphrase)
                b.engine.lock()
                expect(keysB.key == null) { "lock cleared the app's store" }
                refused<EngineException.Locked>("a locked device syncs") { b.engine.syncNow() }
                refused<EngineException.WrongSecret>("the old passphrase still opens") { b.engine.unlock(PASSPHRASE) }
                b.engine.unlock(newPassphrase)
                b.engine.syncNow()

                val newCode = newRecoveryCode()
                a.engine.replaceRecoveryCode(newPassphrase, newCode)
                refused<EngineException.WrongSecret>("the old recovery code still opens") {
                    b.engine.unlockWithRecoveryCode(code)
                }
                b.engine.unlockWithRecoveryCode(newCode)
            }
        }
    }

    t.test("a vault with notes is migrated by setUpEncryption; a plaintext engine is then locked, unlocks, converges") {
        val user = uniqueUser("e2ee-migrate")
        Device(user, "Pixel", MemoryKeyStore()).use { a ->
            Device(user, "Mac", MemoryKeyStore()).use { b ->
                a.vault.write("thoughts/Before.md", "written in plaintext\n")
                a.vault.write("sources/Paper.md", "a paper\n")
                a.engine.syncNow()
                b.engine.syncNow()
                val code = newRecoveryCode()
                a.engine.setUpEncryption(PASSPHRASE, code)
                val state = a.engine.encryptionState()
                expect(state.encrypted && state.unlocked) { "after the migration: $state" }
                a.vault.write("thoughts/After.md", "written encrypted\n")
                a.engine.syncNow()
                b.vault.write("questions/Offline.md", "written on b meanwhile\n")
                refused<EngineException.Locked>("a plaintext engine syncs the encrypted vault") { b.engine.syncNow() }
                b.engine.unlockWithRecoveryCode(code)
                b.engine.syncNow()
                a.engine.syncNow()
                expect(a.vault.notes() == b.vault.notes() && a.vault.notes().size == 4) {
                    "trees differ: ${a.vault.notes()} vs ${b.vault.notes()}"
                }
            }
        }
    }

    t.test("the key store is the app's: a new engine on the same stores is unlocked, a failing one is an error") {
        val user = uniqueUser("e2ee-store")
        val keys = MemoryKeyStore()
        val vault = newVault()
        val tokens = MemoryTokenStore()
        engine(vault, tokens, "Pixel", keyStore = keys).use { a ->
            a.signIn(IdentityProvider.APPLE, mint(user))
            a.setUpEncryption(PASSPHRASE, newRecoveryCode())
            vault.write("questions/Why.md", "why\n")
            a.syncNow()
        }
        // The app restarts: a new engine on the same folder and the same stores.
        engine(vault, tokens, "Pixel", keyStore = keys).use { again ->
            expect(again.encryptionState().unlocked) { "the restarted engine found the key" }
            vault.write("questions/How.md", "how\n")
            expect(again.syncNow().pushed == listOf("questions/How.md")) { "the restarted engine pushes" }
        }
        vault.deleteRecursively()
        Device(user, "Tablet", MemoryKeyStore(failSaves = true)).use { c ->
            refused<EngineException.KeyStoreFailed>("a failing key store") { c.engine.unlock(PASSPHRASE) }
            refused<EngineException.Locked>("a device whose store failed syncs") { c.engine.syncNow() }
        }
    }

    t.test("the crypto crate's test vectors, through the bindings") {
        val dir = File("crypto/test-vectors")
        fun read(name: String): Any? = Json.parse(File(dir, name).readText())
        val keys = read("keys.json")
        val vk0 = keys["vault_key"].str().hex()
        val rotation = keys["rotation_to_generation1"]
        val vk1 = rotation["vault_key"].str().hex()
        val keyring = rotation["keyring"].str().hex()

        val paths = read("paths.json")["paths"].list()
        for (p in paths) {
            val key = conformancePathKey(vk0, p["input"].str())
            expect(key == p["path_key"].str()) { "path key of ${p["input"]}: $key" }
            val opened = conformanceOpenPath(vk0, key, p["encrypted_path"].str().hex())
            expect(opened == p["nfc"].str()) { "opened path: $opened" }
        }
        for (group in read("paths.json")["same_path_key"].list()) {
            val inputs = group.list().map { paths[(it as Long).toInt()]["input"].str() }
            expect(inputs.map { conformancePathKey(vk0, it) }.toSet().size == 1) { "one path key for $inputs" }
        }

        var blobs = 0
        for (b in read("blobs.json")["blobs"].list()) {
            val stored = b["blob"] as String? ?: continue
            val gen1 = b["generation"].long() == 1L
            val content = conformanceOpenBlob(
                if (gen1) vk1 else vk0, if (gen1) 1u else 0u, if (gen1) keyring else null,
                b["blob_id"].str(), stored.hex(),
            )
            val sha = MessageDigest.getInstance("SHA-256").digest(content).hex()
            expect(sha == b["content_sha256"].str()) { "content of blob ${b["blob_id"]}" }
            val altered = stored.hex().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
            refused<EngineException.Integrity>("an altered blob opens") {
                conformanceOpenBlob(if (gen1) vk1 else vk0, if (gen1) 1u else 0u, if (gen1) keyring else null, b["blob_id"].str(), altered)
            }
            blobs++
        }
        expect(blobs >= 3) { "only $blobs blobs checked" }

        for (m in read("manifests.json")["manifests"].list()) {
            val gen1 = m["generation"].long() == 1L
            val opened = conformanceOpenManifest(
                if (gen1) vk1 else vk0, if (gen1) 1u else 0u, if (gen1) keyring else null,
                m["path_key"].str(), m["version"].long(), m["manifest"].str().hex(),
            )
            expect(opened.path == m["path"].str() && opened.blobId == m["blob_id"].str() &&
                opened.size == m["size"].long().toULong() && opened.mtimeMs == m["mtime_ms"].long()) { "manifest: $opened" }
            refused<EngineException.Integrity>("a manifest opens as another version") {
                conformanceOpenManifest(
                    if (gen1) vk1 else vk0, if (gen1) 1u else 0u, if (gen1) keyring else null,
                    m["path_key"].str(), m["version"].long() + 1, m["manifest"].str().hex(),
                )
            }
        }

        val slots = read("slots.json")
        val slotVk = slots["vault_key"].str()
        val passphraseSlots = slots["passphrase_slots"].list()
        for (s in passphraseSlots) {
            val vk = conformanceOpenSlot(s["slot"].str().hex(), s["passphrase"].str(), null, 64u)
            expect(vk.hex() == slotVk) { "passphrase slot ${s["id"]}" }
        }
        val nfd = slots["nfd_passphrase_opens_nfc_slot"]
        val nfdSlot = passphraseSlots[nfd["slot_index"].long().toInt()]
        expect(conformanceOpenSlot(nfdSlot["slot"].str().hex(), nfd["typed"].str(), null, 64u).hex() == slotVk) {
            "the NFD passphrase opens the NFC slot"
        }
        val rc = slots["recovery_code"]
        expect(conformanceRecoveryCode(rc["display"].str()).hex() == rc["bytes"].str()) { "recovery code bytes" }
        expect(conformanceRecoveryCode(rc["also_accepted"].str()).hex() == rc["bytes"].str()) { "as typed" }
        refused<EngineException.Integrity>("a recovery code with a typo") {
            conformanceRecoveryCode(rc["typo_rejected_before_decryption"].str())
        }
        val recoverySlot = slots["recovery_slot"]["slot"].str().hex()
        expect(conformanceOpenSlot(recoverySlot, null, rc["display"].str(), 64u).hex() == slotVk) { "recovery slot" }
    }
}
