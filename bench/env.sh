# Sourced by bench/run: database names, ports and the environment of both projects.
BENCH_PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-p6_bench}"
BENCH_STOCK_DB="${BENCH_STOCK_DB:-p6_bench_stock}"
BENCH_LEDGER_DB="${BENCH_LEDGER_DB:-p6_bench_ledger}"
# bench/flash_sale.py: a fresh copy of the seed each run (the correctness figures read the whole database)
BENCH_FLASH_DB="${BENCH_FLASH_DB:-p6_bench_flash}" BENCH_FLASH_SEED_DB="${BENCH_FLASH_SEED_DB:-p6_bench_flash_seed}"
BENCH_VAR="${BENCH_VAR:-$ROOT/var/bench}"
export BENCH_OUR_PORT="${BENCH_OUR_PORT:-18601}" BENCH_STOCK_PORT="${BENCH_STOCK_PORT:-18602}"
export BENCH_HOOK_PORT="${BENCH_HOOK_PORT:-18603}" BENCH_STRIPE_PORT="${BENCH_STRIPE_PORT:-18604}"
# bench/queued.py: a Redis database as the broker, Celery's keys deleted before and after (the tests' broker
# fixture picks 1 + pid % 15: a test run on that database at the same time would disturb the bench), and the
# slow SMTP server's port.
export BENCH_BROKER="${BENCH_BROKER:-redis://127.0.0.1:6379/14}" BENCH_SMTP_PORT="${BENCH_SMTP_PORT:-18605}"
# bench/flash_sale.py: Redis database 13 as the cache and the broker (only its own keys deleted), its ports
export BENCH_FLASH_REDIS="${BENCH_FLASH_REDIS:-redis://127.0.0.1:6379/13}"
export BENCH_FLASH_PORT="${BENCH_FLASH_PORT:-18606}" BENCH_FLASH_STRIPE_PORT="${BENCH_FLASH_STRIPE_PORT:-18607}"
export BENCH_FLASH_STOCK_PORT="${BENCH_FLASH_STOCK_PORT:-18608}" BENCH_CEILING_PORT="${BENCH_CEILING_PORT:-18609}"
export BENCH_RESULTS="$BENCH_VAR/results.jsonl"
our_env() {  # our project, production settings over plain HTTP on 127.0.0.1
    env DJANGO_SETTINGS_MODULE=shop.settings DATABASE_URL="$BENCH_PG/${1:-$BENCH_DB}" SECRET_KEY=bench-only \
        DEBUG=0 SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0 ALLOWED_HOSTS=127.0.0.1,localhost,testserver \
        P6_VAR_DIR="$BENCH_VAR/ours" LOG_LEVEL=WARNING EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend \
        STRIPE_SECRET_KEY=sk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench \
        STRIPE_API_BASE="http://127.0.0.1:$BENCH_STRIPE_PORT" STRIPE_PEER=localstripe STRIPE_MAX_NETWORK_RETRIES=0 \
        PYTHONPATH="$ROOT" "${@:2}"
}
stock_env() {
    env DJANGO_SETTINGS_MODULE=stock_oscar.settings DATABASE_URL="$BENCH_PG/$BENCH_STOCK_DB" SECRET_KEY=bench-only \
        P6_VAR_DIR="$BENCH_VAR/stock" PYTHONPATH="$ROOT/bench:$ROOT" "$@"
}
db_exists() { psql "$BENCH_PG/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1; }
