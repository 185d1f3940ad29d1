select country, sum(total_amount) as revenue, sum(orders) as orders
from {{ ref('customer_orders') }}
group by country
