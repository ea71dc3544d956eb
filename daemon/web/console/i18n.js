// Console strings, French first (the stations are in France), English for support staff.
"use strict";
window.PASSERELLE_I18N = {
  fr: {
    skip: "Aller au contenu", devices: "Appareils", health: "Santé", events: "Événements",
    doctor: "Diagnostic", observance: "Observance", support: "Assistance", device: "Appareil",
    family: "Famille", model: "Modèle", availability: "Disponibilité", time: "Heure", topic: "Sujet",
    what: "Quoi", test_scan: "Scanner maintenant", test_card: "Insérer une carte maintenant",
    run_doctor: "Lancer le diagnostic", observance_empty: "Aucune donnée d'observance reçue depuis l'ouverture de la console.",
    support_text: "Paquet d'assistance : configuration sans secrets, journaux récents, diagnostic, versions. Jamais de NIR.",
    download: "Télécharger le paquet d'assistance", connected: "connecté", disconnected: "déconnecté, nouvelle tentative…",
    waiting_scan: "Scannez un code maintenant (30 s)…", waiting_card: "Insérez une carte maintenant (30 s)…",
    got_scan: "Scan reçu ✓", got_card: "Carte vue ✓", timeout: "Rien reçu en 30 s ✗", disabled: "désactivé",
    period: "Période", hours: "Heures", tier: "Palier", renewal: "Renouvellement", running: "diagnostic en cours…",
    online: "en ligne", offline: "hors ligne", fix: "correction", lang: "English",
  },
  en: {
    skip: "Skip to content", devices: "Devices", health: "Health", events: "Events",
    doctor: "Doctor", observance: "Observance", support: "Support", device: "Device",
    family: "Family", model: "Model", availability: "Availability", time: "Time", topic: "Topic",
    what: "What", test_scan: "Scan now", test_card: "Insert a card now",
    run_doctor: "Run the doctor", observance_empty: "No observance data received since the console was opened.",
    support_text: "Support bundle: configuration without secrets, recent logs, doctor, versions. Never a NIR.",
    download: "Download the support bundle", connected: "connected", disconnected: "disconnected, retrying…",
    waiting_scan: "Scan a code now (30 s)…", waiting_card: "Insert a card now (30 s)…",
    got_scan: "Scan received ✓", got_card: "Card seen ✓", timeout: "Nothing received in 30 s ✗", disabled: "disabled",
    period: "Period", hours: "Hours", tier: "Tier", renewal: "Renewal", running: "doctor running…",
    online: "online", offline: "offline", fix: "fix", lang: "Français",
  },
};
