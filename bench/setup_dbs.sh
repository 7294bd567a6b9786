# Sourced by bench/run: create and load both storefront databases once (skipped when present).
setup_ours() {
    if ! db_exists "$BENCH_DB" || [ "$(psql "$BENCH_PG/$BENCH_DB" -tAc "SELECT value FROM bench_meta WHERE key='ready'" 2>/dev/null)" != "1" ]; then
        echo "bench: creating $BENCH_DB (migrate, catalogue, fundraising, collectstatic)" >&2
        psql "$BENCH_PG/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
        our_env "$BENCH_DB" python manage.py migrate --noinput -v0
        our_env "$BENCH_DB" python manage.py load_p6_catalogue >/dev/null
        our_env "$BENCH_DB" python manage.py load_p6_fundraising >/dev/null
        our_env "$BENCH_DB" python manage.py collectstatic --noinput -v0
        # Unlimited stock so that basket adds and orders never run out during a run (both projects alike).
        psql "$BENCH_PG/$BENCH_DB" -qc "UPDATE partner_stockrecord SET num_in_stock = 100000000" \
            -c "CREATE TABLE bench_meta (key text primary key, value text)" -c "INSERT INTO bench_meta VALUES ('ready','1')"
    fi
}
setup_stock() {
    if ! db_exists "$BENCH_STOCK_DB" || [ "$(psql "$BENCH_PG/$BENCH_STOCK_DB" -tAc "SELECT value FROM bench_meta WHERE key='ready'" 2>/dev/null)" != "1" ]; then
        echo "bench: creating $BENCH_STOCK_DB (stock Oscar: migrate, same P6 catalogue, collectstatic)" >&2
        psql "$BENCH_PG/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_STOCK_DB" -c "CREATE DATABASE $BENCH_STOCK_DB"
        stock_env python -m django migrate --noinput -v0
        stock_env python bench/stock_oscar/load_catalogue.py >/dev/null
        stock_env python -m django collectstatic --noinput -v0
        psql "$BENCH_PG/$BENCH_STOCK_DB" -qc "UPDATE partner_stockrecord SET num_in_stock = 100000000" \
            -c "CREATE TABLE bench_meta (key text primary key, value text)" -c "INSERT INTO bench_meta VALUES ('ready','1')"
    fi
}
setup_flash() {  # bench/flash_sale.py copies $BENCH_FLASH_DB from this seed (catalogue and campaign, no orders) each run
    if ! db_exists "$BENCH_FLASH_SEED_DB" || [ "$(psql "$BENCH_PG/$BENCH_FLASH_SEED_DB" -tAc "SELECT value FROM bench_meta WHERE key='ready'" 2>/dev/null)" != "1" ]; then
        echo "bench: creating $BENCH_FLASH_SEED_DB (migrate, catalogue, fundraising)" >&2
        psql "$BENCH_PG/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_FLASH_SEED_DB" -c "CREATE DATABASE $BENCH_FLASH_SEED_DB"
        our_env "$BENCH_FLASH_SEED_DB" python manage.py migrate --noinput -v0
        our_env "$BENCH_FLASH_SEED_DB" python manage.py load_p6_catalogue >/dev/null
        our_env "$BENCH_FLASH_SEED_DB" python manage.py load_p6_fundraising >/dev/null
        # the product images the catalogue wrote are where this run's MEDIA_ROOT is: kept with the seed
        psql "$BENCH_PG/$BENCH_FLASH_SEED_DB" -qc "CREATE TABLE bench_meta (key text primary key, value text)" \
            -c "INSERT INTO bench_meta VALUES ('media','$BENCH_VAR/ours/media'), ('ready','1')"
    fi
    BENCH_FLASH_MEDIA="$(psql "$BENCH_PG/$BENCH_FLASH_SEED_DB" -tAc "SELECT value FROM bench_meta WHERE key='media'")"
    export BENCH_FLASH_MEDIA="${BENCH_FLASH_MEDIA:-$BENCH_VAR/ours/media}"
    # the current tree's migrations (quick when nothing changed), then a fresh copy for this run
    our_env "$BENCH_FLASH_SEED_DB" python manage.py migrate --noinput -v0
    psql "$BENCH_PG/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_FLASH_DB" \
        -c "CREATE DATABASE $BENCH_FLASH_DB TEMPLATE $BENCH_FLASH_SEED_DB"
}
