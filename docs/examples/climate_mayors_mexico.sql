-- Which US cities that pledged with Climate Mayors export most to Mexico through their ports,
-- and which Mexican sister cities do they have? Run it on the release's SQLite database:
--   sqlite3 published/latest/data/city_commitments.sqlite < docs/examples/climate_mayors_mexico.sql
-- (or paste it into datasette: make serve). Port trade of one source only: never sum across source_id.
WITH mayors AS (
  SELECT DISTINCT p.city_id
  FROM pledges p JOIN initiatives i USING (initiative_id)
  WHERE i.name = 'Climate Mayors'
), exports AS (
  SELECT city_id, SUM(value_usd) AS exports_usd
  FROM trade_flows
  WHERE source_id = 'bts_dot1_201501' AND partner_country_iso3 = 'MEX' AND flow = 'export'
  GROUP BY city_id
), pairs AS (
  SELECT city_a_id AS city_id, city_b_id AS other_id FROM partnerships
  UNION ALL
  SELECT city_b_id, city_a_id FROM partnerships
), sisters AS (
  SELECT pairs.city_id, COUNT(*) AS n, GROUP_CONCAT(o.name, '; ') AS names
  FROM pairs JOIN cities o ON o.city_id = pairs.other_id
  WHERE o.country_iso3 = 'MEX'
  GROUP BY pairs.city_id
)
SELECT c.name, e.exports_usd, COALESCE(s.n, 0) AS mexican_sister_cities, s.names AS sister_cities
FROM exports e
JOIN mayors m USING (city_id)
JOIN cities c USING (city_id)
LEFT JOIN sisters s USING (city_id)
WHERE c.country_iso3 = 'USA'
ORDER BY e.exports_usd DESC
LIMIT 10;
