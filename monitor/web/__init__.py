"""The daemon's own HTTP side: the aiohttp server (`server`: /metrics, health, the API,
reload), its web config in the exporter-toolkit shape (`web_config`: TLS, basic and bearer
auth), the checks and limits of auth (`auth`) and the connection limits (`connections`)."""
